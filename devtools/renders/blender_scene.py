"""Photographs of donuts, bagels and vadas, and of other foods the demo must refuse,
rendered by Blender's Cycles (path tracing on the CPU, denoised), everything procedural:
meshes, materials, tables, plates, lights and camera drawn from one seeded generator per
image.

Runs inside .venv-render, whose bpy needs numpy < 2 (devtools/renders/blender.py makes it
and starts this): it imports nothing of the project's.

    python -m devtools.renders.blender_scene JOBS.json   # [{"label", "seed", "path", "size", "samples"}, …]
"""

from __future__ import annotations

import json
import math
import random
import sys

import bpy  # isort: skip  (first: bmesh and mathutils exist only once bpy is imported)
import bmesh  # isort: skip
from mathutils import Matrix, Vector  # isort: skip

from devtools.renders.dishes import OTHER_FOODS as OTHER_FOOD_NAMES

Colour = tuple[float, float, float]


def _lighter(colour: Colour) -> Colour:
    red, green, blue = (min(1, c * 1.1) for c in colour)
    return red, green, blue


def _jitter(rng: random.Random, colour: Colour, amount: float = 0.08) -> Colour:
    return tuple(min(1.0, max(0.0, c * rng.uniform(1 - amount, 1 + amount))) for c in colour)  # type: ignore[return-value]


# --- materials ----------------------------------------------------------------------------


def _material(name: str) -> tuple[bpy.types.Material, bpy.types.Node, bpy.types.NodeTree]:
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    tree = material.node_tree
    return material, tree.nodes["Principled BSDF"], tree


def _set(bsdf: bpy.types.Node, **inputs: object) -> None:
    for key, value in inputs.items():
        bsdf.inputs[key.replace("_", " ")].default_value = value


def _noise_colour(
    tree: bpy.types.NodeTree, bsdf: bpy.types.Node, dark: Colour, light: Colour, scale: float, detail: float = 6.0
) -> bpy.types.Node:
    """Base colour from noise between dark and light; returns the noise node (for bumps)."""
    noise = tree.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = scale
    noise.inputs["Detail"].default_value = detail
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (*dark, 1)
    ramp.color_ramp.elements[1].color = (*light, 1)
    ramp.color_ramp.elements[0].position, ramp.color_ramp.elements[1].position = 0.3, 0.7
    tree.links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
    tree.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    return noise


def _bump(
    tree: bpy.types.NodeTree, bsdf: bpy.types.Node, scale: float, strength: float, kind: str = "ShaderNodeTexNoise"
) -> None:
    texture = tree.nodes.new(kind)
    texture.inputs["Scale"].default_value = scale
    bump = tree.nodes.new("ShaderNodeBump")
    bump.inputs["Strength"].default_value = strength
    output = texture.outputs["Fac"] if "Fac" in texture.outputs else texture.outputs["Distance"]
    tree.links.new(output, bump.inputs["Height"])
    tree.links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])


def _pale_ring(tree: bpy.types.NodeTree, bsdf: bpy.types.Node, dough: Colour, pale: Colour, width: float) -> None:
    """Fried dough with the pale band where it floated in the fat: lighter where |z| is small."""
    coords = tree.nodes.new("ShaderNodeTexCoord")
    xyz = tree.nodes.new("ShaderNodeSeparateXYZ")
    tree.links.new(coords.outputs["Object"], xyz.inputs["Vector"])
    absolute = tree.nodes.new("ShaderNodeMath")
    absolute.operation = "ABSOLUTE"
    tree.links.new(xyz.outputs["Z"], absolute.inputs[0])
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (*pale, 1)
    ramp.color_ramp.elements[1].color = (*dough, 1)
    ramp.color_ramp.elements[0].position, ramp.color_ramp.elements[1].position = width * 0.5, width
    tree.links.new(absolute.outputs["Value"], ramp.inputs["Fac"])
    tree.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])


def _over_base(
    tree: bpy.types.NodeTree, bsdf: bpy.types.Node, blend: str
) -> tuple[bpy.types.Node, bpy.types.NodeSocket]:
    """A colour mix put between the base colour and what fed it (a texture, or its plain
    colour); returns the mix node and its second colour input, for the caller to fill."""
    if bsdf.inputs["Base Color"].links:
        link = bsdf.inputs["Base Color"].links[0]
        source = link.from_socket
        tree.links.remove(link)
    else:
        plain = tree.nodes.new("ShaderNodeRGB")
        plain.outputs[0].default_value = bsdf.inputs["Base Color"].default_value[:]
        source = plain.outputs[0]
    mix = tree.nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.blend_type = blend
    # Its sockets A, B and Result exist once per data type, so names would find the float ones.
    tree.links.new(source, mix.inputs[6])
    tree.links.new(mix.outputs[2], bsdf.inputs["Base Color"])
    return mix, mix.inputs[7]


def _mottle(tree: bpy.types.NodeTree, bsdf: bpy.types.Node, scale: float, amount: float) -> None:
    """Browning that varies over the surface, as it does on anything baked or fried: the
    base colour darkened by up to amount where noise says so. Evenly coloured dough is what
    made the donut renders look like toys (or toilet seats) to ImageNet's network."""
    noise = tree.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = scale
    noise.inputs["Detail"].default_value = 8
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (1 - amount, 1 - amount * 1.1, 1 - amount * 1.3, 1)  # browner, not greyer
    ramp.color_ramp.elements[1].color = (1, 1, 1, 1)
    ramp.color_ramp.elements[0].position, ramp.color_ramp.elements[1].position = 0.35, 0.65
    tree.links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
    mix, darkening = _over_base(tree, bsdf, "MULTIPLY")
    mix.inputs["Factor"].default_value = 1.0
    tree.links.new(ramp.outputs["Color"], darkening)


def _specks(tree: bpy.types.NodeTree, bsdf: bpy.types.Node, scale: float, colour: Colour, coverage: float) -> None:
    """Small bits in the surface (pepper, curry leaf, a bagel's seeds): the base colour replaced
    by colour where noise exceeds 1 - coverage (noise gathers around 0.5: 0.35 gives sparse specks)."""
    noise = tree.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = scale
    noise.inputs["Detail"].default_value = 2
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.interpolation = "CONSTANT"
    ramp.color_ramp.elements[0].color = (0, 0, 0, 1)
    ramp.color_ramp.elements[1].color = (1, 1, 1, 1)
    ramp.color_ramp.elements[1].position = 1 - coverage
    tree.links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
    mix, speck = _over_base(tree, bsdf, "MIX")
    tree.links.new(ramp.outputs["Color"], mix.inputs["Factor"])
    speck.default_value = (*colour, 1)


def simple(name: str, colour: Colour, roughness: float, **extra: object) -> bpy.types.Material:
    material, bsdf, _ = _material(name)
    _set(bsdf, Base_Color=(*colour, 1), Roughness=roughness, **extra)
    return material


# --- meshes -------------------------------------------------------------------------------


def _torus(major: float, minor: float, location: Vector, segments: int = 48) -> bpy.types.Object:
    bpy.ops.mesh.primitive_torus_add(
        major_radius=major, minor_radius=minor, major_segments=segments, minor_segments=segments // 2, location=location
    )
    return bpy.context.object


def _displace(
    obj: bpy.types.Object, rng: random.Random, strength: float, size: float, levels: int = 1, kind: str = "CLOUDS"
) -> None:
    if levels:
        subdivision = obj.modifiers.new("subdivision", "SUBSURF")
        subdivision.levels = subdivision.render_levels = levels
    texture = bpy.data.textures.new(f"bumps{rng.random()}", kind)
    texture.noise_scale = size
    if kind == "CLOUDS":
        texture.noise_depth = 3
    displace = obj.modifiers.new("displace", "DISPLACE")
    displace.texture = texture
    displace.strength = strength
    displace.mid_level = 0.5
    displace.texture_coords = "LOCAL"
    obj.modifiers[-1].show_render = True
    # A random offset of the texture per object: each item its own lumps.
    empty = bpy.data.objects.new(f"offset{rng.random()}", None)
    bpy.context.scene.collection.objects.link(empty)
    empty.location = (rng.uniform(-50, 50), rng.uniform(-50, 50), rng.uniform(-50, 50))
    displace.texture_coords = "OBJECT"
    displace.texture_coords_object = empty


def _smooth(obj: bpy.types.Object) -> None:
    for polygon in obj.data.polygons:
        polygon.use_smooth = True


def _place_copy(
    template: bpy.types.Object,
    holder: bpy.types.Object,
    location: Vector,
    rotation: tuple[float, float, float] | None = None,
) -> None:
    """A linked copy of template (a seed, a sprinkle, a lentil) that moves with holder."""
    copy = template.copy()
    bpy.context.scene.collection.objects.link(copy)
    copy.parent = holder
    copy.location = location
    if rotation is not None:
        copy.rotation_euler = rotation


def _scatter_on_top(
    rng: random.Random,
    holder: bpy.types.Object,
    major: float,
    minor: float,
    count: int,
    template: bpy.types.Object,
    top_from: float = 0.15,
) -> None:
    """Linked copies of template (seeds, sprinkles) on the upper surface of a torus."""
    for _ in range(count):
        theta = rng.uniform(0, 2 * math.pi)
        phi = rng.uniform(top_from * math.pi, (1 - top_from) * math.pi)
        radial = major + minor * math.cos(phi)
        point = Vector((radial * math.cos(theta), radial * math.sin(theta), minor * math.sin(phi)))
        _place_copy(template, holder, point, (rng.uniform(0, 3.14), rng.uniform(0, 3.14), rng.uniform(0, 3.14)))


def _grain(name: str, scale: tuple[float, float, float], material: bpy.types.Material) -> bpy.types.Object:
    bpy.ops.mesh.primitive_uv_sphere_add(segments=8, ring_count=5, location=(0, 0, -100))
    grain = bpy.context.object
    grain.name = name
    grain.scale = scale
    grain.data.materials.append(material)
    return grain


def _cut_top(obj: bpy.types.Object, rng: random.Random, level: float, drips: int) -> None:
    """Keeps the part of a mesh above a wavy level (icing that ran down in drips)."""
    mesh = bmesh.new()
    mesh.from_mesh(obj.data)
    centres = [rng.uniform(0, 2 * math.pi) for _ in range(drips)]
    doomed = []
    for vertex in mesh.verts:
        theta = math.atan2(vertex.co.y, vertex.co.x)
        dip = sum(0.22 * math.exp(-(((math.remainder(theta - c, 2 * math.pi)) / 0.12) ** 2)) for c in centres)
        if vertex.co.z < level - dip + 0.04 * math.sin(5 * theta + centres[0] if centres else 0):
            doomed.append(vertex)
    bmesh.ops.delete(mesh, geom=doomed, context="VERTS")
    mesh.to_mesh(obj.data)
    mesh.free()


# --- foods --------------------------------------------------------------------------------


ICINGS = {
    "chocolate": (0.09, 0.04, 0.018),
    "pink": (0.92, 0.38, 0.55),
    "white": (0.88, 0.85, 0.8),
    "caramel": (0.5, 0.25, 0.07),
    "yellow": (0.95, 0.75, 0.2),
    "blue": (0.3, 0.55, 0.9),
    "green": (0.35, 0.75, 0.3),
}
SPRINKLES = [
    (0.9, 0.1, 0.1),
    (0.1, 0.5, 0.9),
    (0.95, 0.85, 0.1),
    (0.2, 0.7, 0.2),
    (0.95, 0.95, 0.95),
    (0.9, 0.4, 0.7),
    (0.95, 0.5, 0.1),
    (0.5, 0.2, 0.7),
]


def _icing(rng: random.Random, colour: Colour) -> bpy.types.Material:
    """Icing, sometimes drizzled across with thin stripes of another."""
    material, bsdf, tree = _material("icing")
    _set(bsdf, Base_Color=(*colour, 1), Roughness=rng.uniform(0.15, 0.45), Coat_Weight=rng.uniform(0.0, 0.5))
    if rng.random() < 0.3:
        wave = tree.nodes.new("ShaderNodeTexWave")
        wave.inputs["Scale"].default_value = rng.uniform(1.5, 3.5)
        wave.inputs["Distortion"].default_value = rng.uniform(0.5, 3)
        ramp = tree.nodes.new("ShaderNodeValToRGB")
        ramp.color_ramp.interpolation = "CONSTANT"
        ramp.color_ramp.elements[0].color = (*colour, 1)
        ramp.color_ramp.elements[1].color = (*_jitter(rng, rng.choice(list(ICINGS.values()))), 1)
        ramp.color_ramp.elements[1].position = rng.uniform(0.75, 0.9)
        tree.links.new(wave.outputs["Fac"], ramp.inputs["Fac"])
        tree.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    _mottle(tree, bsdf, rng.uniform(4, 10), 0.15)  # poured by hand: thicker here, thinner there
    _bump(tree, bsdf, rng.uniform(6, 14), 0.3)
    return material


def _toppings(rng: random.Random, icing: bpy.types.Object, major: float, minor: float) -> None:
    """Sprinkles, nonpareils or coconut, densely over the icing as bakeries do it."""
    kind = rng.choice(["sprinkles", "sprinkles", "nonpareils", "coconut"])
    if kind == "coconut":
        template = _grain("coconut", (0.06, 0.02, 0.008), simple("coconut", (0.95, 0.94, 0.9), 0.7))
        _scatter_on_top(rng, icing, major, minor, rng.randint(150, 300), template, top_from=0.2)
        return
    for hue in rng.sample(SPRINKLES, rng.randint(3, 7)):
        colour = simple("sprinkle", hue, 0.35)
        if kind == "nonpareils":
            template = _grain("nonpareil", (0.04, 0.04, 0.04), colour)
        else:
            bpy.ops.mesh.primitive_cylinder_add(vertices=6, radius=0.03, depth=0.18, location=(0, 0, -100))
            template = bpy.context.object
            template.data.materials.append(colour)
        _scatter_on_top(rng, icing, major, minor, rng.randint(40, 80), template, top_from=0.2)


def donut(rng: random.Random, location: Vector) -> bpy.types.Object:
    """Soft fried dough, matte with fine pores and a pale band where it floated in the fat;
    under a translucent glaze, thick icing (perhaps drizzled) with toppings, or sugar."""
    major, minor = rng.uniform(0.85, 1.0), rng.uniform(0.38, 0.48)
    style = rng.choice(["iced", "iced", "iced", "iced", "glazed", "glazed", "sugar", "powdered", "filled", "plain"])
    material, bsdf, tree = _material("dough")
    dough = _jitter(rng, rng.choice([(0.42, 0.2, 0.06), (0.5, 0.27, 0.09), (0.33, 0.16, 0.05)]), 0.12)
    _pale_ring(tree, bsdf, dough, _jitter(rng, (0.88, 0.72, 0.46)), rng.uniform(0.08, 0.18) * minor / 0.4)
    _set(bsdf, Roughness=rng.uniform(0.7, 0.9), Specular_IOR_Level=0.3, Subsurface_Weight=0.15)
    _mottle(tree, bsdf, rng.uniform(3, 8), rng.uniform(0.3, 0.55))
    _bump(tree, bsdf, rng.uniform(15, 30), 0.6)  # the pores of fried dough
    if style == "glazed":  # sugar glaze: a pale film over the dough under a glassy coat
        mix, glaze = _over_base(tree, bsdf, "MIX")
        mix.inputs["Factor"].default_value = rng.uniform(0.2, 0.45)
        glaze.default_value = (*_jitter(rng, (0.95, 0.78, 0.5)), 1)
        _set(
            bsdf,
            Coat_Weight=rng.uniform(0.8, 1.0),
            Coat_Roughness=rng.uniform(0.03, 0.15),
            Coat_Tint=(1.0, 0.95, 0.85, 1),
        )
    if style == "filled":
        bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0, segments=32, ring_count=16, location=location)
        body = bpy.context.object
        body.scale = (1.0, 1.0, rng.uniform(0.55, 0.7))
    else:
        body = _torus(major, minor, location)
        body.scale = (1, 1, rng.uniform(0.7, 0.85))  # risen flat on top, not a round tube
    _displace(body, rng, 0.12, 0.35)  # uneven, as dough is when it is dropped in the fat
    body.data.materials.append(material)
    _smooth(body)
    if style in ("sugar", "powdered", "filled"):
        sugar = simple("sugar", (0.95, 0.93, 0.9), 0.95)
        if style != "powdered":
            grain = _grain("sugar grain", (0.018, 0.018, 0.018), sugar)
            _scatter_on_top(
                rng,
                body,
                major if style != "filled" else 0.0,
                minor if style != "filled" else 0.6,
                rng.randint(400, 700),
                grain,
                top_from=0.0,
            )
        else:  # powdered: the dough's colour mixed with white where noise says so
            _noise_colour(tree, bsdf, dough, (0.96, 0.95, 0.93), rng.uniform(3, 8))
            _set(bsdf, Roughness=0.9)
    if style == "iced":
        icing = _torus(major, minor + 0.06, Vector())
        icing.parent = body  # moves, turns and sits down with the donut
        _cut_top(icing, rng, rng.uniform(-0.05, 0.12), rng.randint(0, 6))
        icing.data.materials.append(_icing(rng, _jitter(rng, rng.choice(list(ICINGS.values())))))
        _displace(icing, rng, 0.04, 0.35)
        _smooth(icing)
        if rng.random() < 0.6:
            _toppings(rng, icing, major, minor + 0.05)
    return body


def _cut_half(obj: bpy.types.Object, crumb: bpy.types.Material, upper: bool) -> None:
    """Keeps the upper or lower half of a bread ring, its cut face filled with crumb."""
    mesh = bmesh.new()
    mesh.from_mesh(obj.data)
    result = bmesh.ops.bisect_plane(
        mesh,
        geom=mesh.verts[:] + mesh.edges[:] + mesh.faces[:],
        plane_co=(0, 0, 0),
        plane_no=(0, 0, 1),
        clear_outer=not upper,
        clear_inner=upper,
    )
    edges = [e for e in result["geom_cut"] if isinstance(e, bmesh.types.BMEdge)]
    # the ring between both loops
    filled = bmesh.ops.triangle_fill(mesh, use_beauty=True, use_dissolve=False, edges=edges)
    obj.data.materials.append(crumb)
    for face in filled["geom"]:
        if isinstance(face, bmesh.types.BMFace):
            face.material_index = 1
    mesh.to_mesh(obj.data)
    mesh.free()


def _seeds(rng: random.Random, holder: bpy.types.Object, major: float, minor: float) -> None:
    seeds = rng.choice(["none", "sesame", "poppy", "everything", "sesame", "everything", "everything"])
    if seeds == "none":
        return
    # Seeds cover a real bagel's top: grains alone (hundreds) left it looking like a glazed
    # donut with a few crumbs, and real seeded bagels went to the masala vadas' flecks.
    crust = holder.active_material.node_tree
    bsdf = crust.nodes["Principled BSDF"]
    if seeds in ("poppy", "everything"):
        _specks(crust, bsdf, rng.uniform(90, 160), (0.03, 0.03, 0.04), rng.uniform(0.38, 0.45))
    if seeds in ("sesame", "everything"):
        _specks(crust, bsdf, rng.uniform(60, 110), _jitter(rng, (0.9, 0.8, 0.58)), rng.uniform(0.38, 0.45))
    sesame = _grain("sesame", (0.045, 0.025, 0.012), simple("sesame", (0.93, 0.85, 0.65), 0.5))
    poppy = _grain("poppy", (0.014, 0.014, 0.014), simple("poppy", (0.05, 0.05, 0.07), 0.4))
    onion = _grain("onion", (0.05, 0.035, 0.01), simple("onion", (0.55, 0.35, 0.15), 0.6))
    kinds = {"sesame": [sesame], "poppy": [poppy], "everything": [sesame, poppy, onion]}[seeds]
    for kind in kinds:
        _scatter_on_top(rng, holder, major, minor + 0.01, rng.randint(700, 1200) // len(kinds), kind)


FILLINGS = {
    "smoked salmon": (0.95, 0.45, 0.3),
    "lettuce": (0.35, 0.65, 0.15),
    "tomato": (0.8, 0.12, 0.08),
    "cheese": (0.95, 0.75, 0.25),
    "ham": (0.9, 0.55, 0.55),
    "egg": (0.97, 0.9, 0.5),
}


def bagel(rng: random.Random, location: Vector) -> bpy.types.Object:
    """Dense, glossy, blistered crust with seeds: whole, a half cut face up (perhaps with
    cream cheese), or a sandwich with its fillings between both halves."""
    major, minor = rng.uniform(0.8, 0.9), rng.uniform(0.55, 0.62)  # dense and round, a small hole
    body = _torus(major, minor, location)
    body.scale = (1, 1, rng.uniform(0.75, 0.9))
    # Fewer halves: a flat cut face looked like a roll of toilet paper to ImageNet's network.
    style = rng.choice(["whole", "whole", "whole", "whole", "whole", "whole", "half", "sandwich", "sandwich"])
    crust, bsdf, tree = _material("crust")
    _noise_colour(
        tree, bsdf, _jitter(rng, (0.2, 0.07, 0.015), 0.25), _jitter(rng, (0.5, 0.24, 0.06), 0.2), rng.uniform(2, 5)
    )
    _set(bsdf, Roughness=rng.uniform(0.4, 0.6), Coat_Weight=rng.uniform(0.0, 0.35), Coat_Roughness=0.35)
    _mottle(tree, bsdf, rng.uniform(3, 8), rng.uniform(0.2, 0.4))  # darker where it touched the tray
    _bump(tree, bsdf, rng.uniform(12, 30), 0.7, "ShaderNodeTexVoronoi")  # blisters
    body.data.materials.append(crust)
    crumb, crumb_bsdf, crumb_tree = _material("crumb")
    _noise_colour(crumb_tree, crumb_bsdf, _jitter(rng, (0.6, 0.45, 0.26)), _jitter(rng, (0.88, 0.76, 0.55)), 12)
    _mottle(crumb_tree, crumb_bsdf, 25, 0.3)
    _bump(crumb_tree, crumb_bsdf, 18, 1.0, "ShaderNodeTexVoronoi")  # the open, chewy crumb
    _set(crumb_bsdf, Roughness=0.9)
    if style == "whole":
        _displace(body, rng, 0.07, 0.4)
        _seeds(rng, body, major, minor)
        _smooth(body)
        return body
    _cut_half(body, crumb, upper=False)
    _smooth(body)
    if style == "half":
        if rng.random() < 0.4:
            _cream_cheese(rng, body, major, minor)
        return body
    _sandwich_top(rng, body, major, minor, crust, crumb)
    return body


def _cream_cheese(rng: random.Random, body: bpy.types.Object, major: float, minor: float) -> None:
    """A spread layer on the cut face, with the bagel's hole cut through it."""
    bpy.ops.mesh.primitive_cylinder_add(vertices=48, radius=major + minor * 0.6, depth=0.12, location=(0, 0, 0.06))
    cheese = bpy.context.object
    cheese.parent = body
    _displace(cheese, rng, 0.1, 0.2, levels=2)  # spread thick with a knife, not a disc
    cheese.data.materials.append(simple("cream cheese", (0.93, 0.91, 0.85), 0.6, Subsurface_Weight=0.3))
    bpy.ops.mesh.primitive_cylinder_add(vertices=32, radius=major - minor * 0.9, depth=0.3, location=(0, 0, 0.03))
    hole = bpy.context.object
    hole.parent = body
    cut = cheese.modifiers.new("hole", "BOOLEAN")
    cut.object, cut.operation = hole, "DIFFERENCE"
    hole.hide_render = True


def _sandwich_top(
    rng: random.Random,
    body: bpy.types.Object,
    major: float,
    minor: float,
    crust: bpy.types.Material,
    crumb: bpy.types.Material,
) -> None:
    """Two to four fillings on the lower half, then the upper half cut face down."""
    height = 0.0
    for name in rng.sample(sorted(FILLINGS), rng.randint(2, 4)):
        thick = rng.uniform(0.05, 0.14)
        bpy.ops.mesh.primitive_cylinder_add(
            vertices=48,
            radius=(major + minor) * rng.uniform(0.95, 1.15),
            depth=thick,
            location=(0, 0, height + thick / 2),
        )
        layer = bpy.context.object
        layer.parent = body
        _displace(layer, rng, 0.12, 0.25, levels=2)  # ragged edges hanging over the crust
        layer.data.materials.append(simple(name, _jitter(rng, FILLINGS[name]), 0.45))
        height += thick * 0.8
    top = _torus(major, minor, Vector((0, 0, height)))
    top.parent = body
    top.data.materials.append(crust)
    _cut_half(top, crumb, upper=True)
    _seeds(rng, top, major, minor)
    _smooth(top)


def vada(rng: random.Random, location: Vector) -> bpy.types.Object:
    masala = rng.random() < 0.25
    crust, bsdf, tree = _material("fried")
    _noise_colour(
        tree,
        bsdf,
        _jitter(rng, (0.3, 0.1, 0.015), 0.2),
        _jitter(rng, (0.72, 0.34, 0.05), 0.15),  # golden orange
        rng.uniform(4, 10),
        detail=10,
    )
    _specks(
        tree, bsdf, rng.uniform(30, 60), rng.choice([(0.03, 0.02, 0.01), (0.05, 0.12, 0.02)]), rng.uniform(0.33, 0.4)
    )
    # Matte: glossy vadas looked like glazed donuts, and real glazed donuts were called vada.
    _set(bsdf, Roughness=rng.uniform(0.6, 0.85), Coat_Weight=rng.uniform(0.0, 0.1))
    _bump(tree, bsdf, rng.uniform(25, 45), 0.6)  # the crisp, rough skin
    if masala:  # flat and lumpy, with split lentils showing
        bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0, segments=32, ring_count=16, location=location)
        body = bpy.context.object
        body.scale = (rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1), rng.uniform(0.28, 0.38))
        _displace(body, rng, 0.18, 0.2, levels=2)
        dal = _grain("dal", (0.07, 0.05, 0.025), simple("dal", _jitter(rng, (0.85, 0.58, 0.15)), 0.5))
        leaf = _grain("curry leaf", (0.08, 0.03, 0.005), simple("leaf", (0.08, 0.2, 0.04), 0.4))
        for template, count in ((dal, rng.randint(40, 90)), (leaf, rng.randint(0, 8))):
            for _ in range(count):
                angle, radius = rng.uniform(0, 2 * math.pi), math.sqrt(rng.random()) * 0.9
                _place_copy(
                    template,
                    body,
                    Vector(
                        (radius * math.cos(angle), radius * math.sin(angle), math.sqrt(max(0.0, 1 - radius**2)) * 0.97)
                    ),
                    (rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0, 3.14)),
                )
    else:  # medu vada: an irregular, rough ring
        body = _torus(rng.uniform(0.75, 0.9), rng.uniform(0.36, 0.44), location)
        body.scale = (1, 1, rng.uniform(0.75, 0.95))
        _displace(body, rng, rng.uniform(0.12, 0.22), rng.uniform(0.25, 0.45), levels=2)
    body.data.materials.append(crust)
    _smooth(body)
    return body


def pretzel(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A knotted rope of dark, glossy, lye-dipped dough with coarse salt."""
    curve = bpy.data.curves.new("pretzel", "CURVE")
    curve.dimensions = "3D"
    curve.bevel_depth = rng.uniform(0.16, 0.22)
    curve.bevel_resolution = 6
    spline = curve.splines.new("NURBS")
    # The classic shape: two loops whose ends cross at the middle and rest on the belly.
    points = [
        (-0.15, -0.75, 0.05),
        (-0.45, -0.2, 0.0),
        (-0.95, 0.1, 0.0),
        (-0.9, 0.7, 0.0),
        (-0.3, 0.8, 0.0),
        (0.1, 0.1, 0.12),
        (0.0, -0.2, 0.2),
        (-0.1, 0.1, 0.12),
        (0.3, 0.8, 0.0),
        (0.9, 0.7, 0.0),
        (0.95, 0.1, 0.0),
        (0.45, -0.2, 0.0),
        (0.15, -0.75, 0.05),
    ]
    spline.points.add(len(points) - 1)
    for point, (x, y, z) in zip(spline.points, points):
        point.co = (x + rng.uniform(-0.04, 0.04), y + rng.uniform(-0.04, 0.04), z, 1)
    spline.use_endpoint_u = True
    spline.order_u = 4
    body = bpy.data.objects.new("pretzel", curve)
    bpy.context.scene.collection.objects.link(body)
    body.location = location
    crust, bsdf, tree = _material("pretzel crust")
    _noise_colour(tree, bsdf, _jitter(rng, (0.12, 0.045, 0.01), 0.2), _jitter(rng, (0.38, 0.16, 0.04), 0.2), 6)
    _set(bsdf, Roughness=0.35, Coat_Weight=0.6, Coat_Roughness=0.15)
    body.data.materials.append(crust)
    if rng.random() < 0.7:
        salt = _grain("salt", (0.03, 0.025, 0.02), simple("salt", (0.95, 0.95, 0.95), 0.3, Transmission_Weight=0.5))
        for _ in range(rng.randint(20, 50)):
            x, y, z = points[rng.randrange(1, len(points) - 1)]
            _place_copy(salt, body, Vector((x + rng.uniform(-0.1, 0.1), y + rng.uniform(-0.1, 0.1), z + 0.18)))
    return body


def croissant(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A crescent of rolled, laminated dough: thick in the middle, tapering to the tips."""
    body = _torus(1.0, 0.45, location, segments=64)
    mesh = bmesh.new()
    mesh.from_mesh(body.data)
    gap = rng.uniform(0.9, 1.5)  # radians missing between the tips
    doomed = []
    for vertex in mesh.verts:
        theta = math.atan2(vertex.co.y, vertex.co.x) % (2 * math.pi)
        if theta < gap / 2 or theta > 2 * math.pi - gap / 2:
            doomed.append(vertex)
            continue
        along = (theta - gap / 2) / (2 * math.pi - gap)  # 0 at one tip, 1 at the other
        centre = Vector((math.cos(theta), math.sin(theta), 0))
        swell = 0.35 + 0.65 * math.sin(math.pi * along) * (1 + 0.12 * math.sin(40 * math.pi * along))
        vertex.co = centre + (vertex.co - centre) * swell
    bmesh.ops.delete(mesh, geom=doomed, context="VERTS")
    mesh.to_mesh(body.data)
    mesh.free()
    body.scale = (1, 1, rng.uniform(0.7, 0.9))
    crust, bsdf, tree = _material("croissant")
    _noise_colour(tree, bsdf, _jitter(rng, (0.45, 0.2, 0.04)), _jitter(rng, (0.85, 0.6, 0.25)), 5)
    _set(bsdf, Roughness=0.4, Coat_Weight=0.5, Coat_Roughness=0.2)
    _bump(tree, bsdf, rng.uniform(20, 40), 0.3)
    body.data.materials.append(crust)
    _smooth(body)
    return body


def cookie(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A flat, cracked biscuit, perhaps with chocolate chips."""
    bpy.ops.mesh.primitive_cylinder_add(vertices=48, radius=rng.uniform(0.8, 1.0), depth=0.18, location=location)
    body = bpy.context.object
    _displace(body, rng, 0.08, 0.3, levels=2)
    dough, bsdf, tree = _material("cookie")
    _noise_colour(tree, bsdf, _jitter(rng, (0.5, 0.3, 0.12)), _jitter(rng, (0.82, 0.62, 0.35)), 8)
    _set(bsdf, Roughness=0.8)
    _bump(tree, bsdf, 15, 0.6, "ShaderNodeTexVoronoi")
    body.data.materials.append(dough)
    if rng.random() < 0.6:
        chip = _grain("chip", (0.07, 0.07, 0.04), simple("chocolate", (0.07, 0.03, 0.015), 0.3))
        for _ in range(rng.randint(6, 15)):
            angle, radius = rng.uniform(0, 2 * math.pi), math.sqrt(rng.random()) * 0.75
            _place_copy(chip, body, Vector((radius * math.cos(angle), radius * math.sin(angle), 0.1)))
    _smooth(body)
    return body


def idli(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A steamed rice cake: white, spongy, domed on both sides."""
    bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0, segments=32, ring_count=16, location=location)
    body = bpy.context.object
    body.scale = (rng.uniform(0.85, 0.95), rng.uniform(0.85, 0.95), rng.uniform(0.3, 0.38))
    _displace(body, rng, 0.03, 0.5)
    cake, bsdf, tree = _material("idli")
    _noise_colour(tree, bsdf, _jitter(rng, (0.82, 0.8, 0.72), 0.04), _jitter(rng, (0.96, 0.95, 0.9), 0.03), 40)
    _set(bsdf, Roughness=0.85, Subsurface_Weight=0.3)
    _bump(tree, bsdf, 60, 0.4, "ShaderNodeTexVoronoi")  # steam pores
    body.data.materials.append(cake)
    _smooth(body)
    return body


def samosa(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A fried pastry triangle: a three-sided pyramid of blistered, golden crust."""
    bpy.ops.mesh.primitive_cone_add(vertices=3, radius1=1.0, depth=0.9, location=location)
    body = bpy.context.object
    bevel = body.modifiers.new("folds", "BEVEL")
    bevel.width, bevel.segments = 0.12, 3
    _displace(body, rng, 0.05, 0.3, levels=2)
    crust, bsdf, tree = _material("samosa")
    _noise_colour(tree, bsdf, _jitter(rng, (0.5, 0.26, 0.05)), _jitter(rng, (0.85, 0.6, 0.22)), 10)
    _set(bsdf, Roughness=0.45, Coat_Weight=0.3)
    _bump(tree, bsdf, 30, 0.5, "ShaderNodeTexVoronoi")  # blisters from the fat
    body.data.materials.append(crust)
    _smooth(body)
    return body


def _batter(rng: random.Random, name: str, dark: Colour, light: Colour) -> bpy.types.Material:
    """Deep-fried batter or dough: golden, mottled, rough (bonda, onion rings, kachori, churros)."""
    crust, bsdf, tree = _material(name)
    _noise_colour(tree, bsdf, _jitter(rng, dark, 0.2), _jitter(rng, light, 0.15), rng.uniform(4, 10), detail=10)
    _set(bsdf, Roughness=rng.uniform(0.45, 0.8), Coat_Weight=rng.uniform(0.0, 0.25))
    _mottle(tree, bsdf, rng.uniform(3, 8), rng.uniform(0.2, 0.4))
    _bump(tree, bsdf, rng.uniform(20, 40), 0.5)
    return crust


def muffin(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A risen, cracked dome over a pleated paper cup, perhaps with berries or chips."""
    height = rng.uniform(0.6, 0.8)
    bpy.ops.mesh.primitive_cone_add(vertices=40, radius1=0.62, radius2=0.8, depth=height, location=location)
    cup = bpy.context.object
    paper, bsdf, tree = _material("muffin cup")
    _set(bsdf, Base_Color=(*_jitter(rng, rng.choice([(0.95, 0.94, 0.9), (0.55, 0.35, 0.2), (0.85, 0.6, 0.65)])), 1))
    _set(bsdf, Roughness=0.7)
    _bump(tree, bsdf, rng.uniform(25, 40), 0.8, "ShaderNodeTexWave")  # the pleats
    cup.data.materials.append(paper)
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.92, segments=32, ring_count=16, location=(0, 0, height / 2))
    top = bpy.context.object
    top.parent = cup
    top.scale = (1, 1, rng.uniform(0.5, 0.7))
    _displace(top, rng, 0.14, 0.3, levels=2)
    crumb, bsdf, tree = _material("muffin top")
    tone = rng.choice([((0.3, 0.14, 0.04), (0.7, 0.45, 0.18)), ((0.12, 0.06, 0.03), (0.3, 0.16, 0.08))])  # or chocolate
    _noise_colour(tree, bsdf, _jitter(rng, tone[0]), _jitter(rng, tone[1]), rng.uniform(3, 7))
    _set(bsdf, Roughness=0.85)
    _bump(tree, bsdf, rng.uniform(8, 16), 0.7, "ShaderNodeTexVoronoi")  # cracks in the crust
    top.data.materials.append(crumb)
    _smooth(top)
    if rng.random() < 0.5:
        colour = rng.choice([(0.1, 0.08, 0.25), (0.07, 0.03, 0.015)])  # blueberries, chocolate chips
        bit = _grain("muffin bit", (0.07, 0.07, 0.06), simple("muffin bit", colour, 0.3))
        for _ in range(rng.randint(5, 14)):
            angle, radius = rng.uniform(0, 2 * math.pi), math.sqrt(rng.random()) * 0.75
            lift = height / 2 + math.sqrt(max(0.0, 1 - (radius / 0.92) ** 2)) * 0.92 * top.scale.z
            _place_copy(bit, cup, Vector((radius * math.cos(angle), radius * math.sin(angle), lift)))
    return cup


def bonda(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A ball of spiced potato fried in gram-flour batter: round where a vada is a ring."""
    bpy.ops.mesh.primitive_uv_sphere_add(radius=rng.uniform(0.6, 0.75), segments=32, ring_count=16, location=location)
    body = bpy.context.object
    body.scale = (1, 1, rng.uniform(0.8, 0.95))
    _displace(body, rng, rng.uniform(0.08, 0.16), 0.2, levels=2)
    body.data.materials.append(_batter(rng, "bonda", (0.35, 0.14, 0.02), (0.8, 0.48, 0.1)))
    _smooth(body)
    return body


def onion_rings(rng: random.Random, location: Vector) -> bpy.types.Object:
    """Rings of onion in crisp batter, a few leaning on one another."""
    batter = _batter(rng, "onion ring", (0.45, 0.24, 0.05), (0.88, 0.66, 0.3))
    first = None
    for index in range(rng.randint(1, 4)):
        major = rng.uniform(0.45, 0.8)
        ring = _torus(major, rng.uniform(0.12, 0.17), Vector() if first else location)
        _displace(ring, rng, 0.06, 0.12, levels=2)
        ring.data.materials.append(batter)
        _smooth(ring)
        if first is None:
            first = ring
            continue
        ring.parent = first
        ring.location = (rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), 0.12 * index)
        ring.rotation_euler = (rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), 0)
    assert first is not None
    return first


def churro(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A ridged stick of fried choux dough rolled in cinnamon sugar, lying curved on its side."""
    bpy.ops.mesh.primitive_cylinder_add(vertices=16, radius=0.3, depth=rng.uniform(2.0, 2.8), location=location)
    body = bpy.context.object
    mesh = bmesh.new()
    mesh.from_mesh(body.data)
    for vertex in mesh.verts:  # a star in section: the piping nozzle's ridges
        step = round(math.atan2(vertex.co.y, vertex.co.x) / (2 * math.pi / 16))
        if step % 2:
            vertex.co.x, vertex.co.y = vertex.co.x * 0.7, vertex.co.y * 0.7
    lengthwise = [edge for edge in mesh.edges if abs(edge.verts[0].co.z - edge.verts[1].co.z) > 0.1]
    bmesh.ops.subdivide_edges(mesh, edges=lengthwise, cuts=20)
    bmesh.ops.rotate(mesh, verts=mesh.verts, cent=(0, 0, 0), matrix=Matrix.Rotation(math.pi / 2, 3, "Y"))
    mesh.to_mesh(body.data)
    mesh.free()
    bend = body.modifiers.new("bend", "SIMPLE_DEFORM")
    bend.deform_method, bend.deform_axis, bend.angle = "BEND", "Z", rng.uniform(0, 1.2)
    crust = _batter(rng, "churro", (0.35, 0.16, 0.04), (0.75, 0.48, 0.2))
    _specks(crust.node_tree, crust.node_tree.nodes["Principled BSDF"], rng.uniform(80, 140), (0.9, 0.82, 0.7), 0.3)
    body.data.materials.append(crust)
    return body


def appam(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A bowl-shaped rice crepe: thick and soft white in the middle, thin, lacy and golden at the rim."""
    radius = rng.uniform(1.1, 1.4)
    bpy.ops.mesh.primitive_uv_sphere_add(radius=radius, segments=48, ring_count=24, location=location)
    body = bpy.context.object
    mesh = bmesh.new()
    mesh.from_mesh(body.data)
    bmesh.ops.delete(mesh, geom=[vertex for vertex in mesh.verts if vertex.co.z > -0.1 * radius], context="VERTS")
    bmesh.ops.translate(mesh, verts=mesh.verts, vec=(0, 0, radius))
    mesh.to_mesh(body.data)
    mesh.free()
    body.scale = (1, 1, rng.uniform(0.3, 0.45))
    shell = body.modifiers.new("thickness", "SOLIDIFY")
    shell.thickness = 0.03
    crepe, bsdf, tree = _material("appam")
    coords = tree.nodes.new("ShaderNodeTexCoord")
    distance = tree.nodes.new("ShaderNodeVectorMath")
    distance.operation = "LENGTH"
    tree.links.new(coords.outputs["Object"], distance.inputs[0])
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (*_jitter(rng, (0.95, 0.93, 0.86), 0.03), 1)
    ramp.color_ramp.elements[1].color = (*_jitter(rng, (0.72, 0.5, 0.22)), 1)
    ramp.color_ramp.elements[0].position, ramp.color_ramp.elements[1].position = 0.35 * radius, 0.9 * radius
    tree.links.new(distance.outputs["Value"], ramp.inputs["Fac"])
    tree.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    _set(bsdf, Roughness=0.8, Subsurface_Weight=0.2)
    _bump(tree, bsdf, rng.uniform(25, 45), 0.8, "ShaderNodeTexVoronoi")  # the lace of tiny holes
    body.data.materials.append(crepe)
    _smooth(body)
    return body


def kachori(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A puffed, flaky round of fried pastry, paler and smoother than a vada."""
    bpy.ops.mesh.primitive_uv_sphere_add(radius=rng.uniform(0.8, 1.0), segments=32, ring_count=16, location=location)
    body = bpy.context.object
    body.scale = (1, 1, rng.uniform(0.38, 0.5))
    _displace(body, rng, 0.05, 0.4, levels=2)
    body.data.materials.append(_batter(rng, "kachori", (0.5, 0.3, 0.08), (0.9, 0.7, 0.38)))
    _smooth(body)
    return body


def pancakes(rng: random.Random, location: Vector) -> bpy.types.Object:
    """A stack of pancakes, browned on their faces and pale at the edge, perhaps under syrup and butter."""
    radius, thickness = rng.uniform(0.9, 1.2), rng.uniform(0.14, 0.22)
    cake, bsdf, tree = _material("pancake")
    _pale_ring(tree, bsdf, _jitter(rng, (0.55, 0.3, 0.1)), _jitter(rng, (0.92, 0.8, 0.55)), thickness * 0.45)
    _set(bsdf, Roughness=0.75)
    _mottle(tree, bsdf, rng.uniform(4, 9), rng.uniform(0.2, 0.45))
    _bump(tree, bsdf, rng.uniform(30, 50), 0.3, "ShaderNodeTexVoronoi")  # bubbles in the batter
    count = rng.randint(1, 5)
    bottom = None
    for index in range(count):
        bpy.ops.mesh.primitive_cylinder_add(vertices=64, radius=radius * rng.uniform(0.95, 1.05), depth=thickness)
        layer = bpy.context.object
        bevel = layer.modifiers.new("edge", "BEVEL")
        bevel.width, bevel.segments = thickness * 0.4, 3
        _displace(layer, rng, 0.04, 0.5, levels=1)
        layer.data.materials.append(cake)
        _smooth(layer)
        if bottom is None:
            bottom, layer.location = layer, location
        else:
            layer.parent = bottom
            layer.location = (rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08), index * thickness * 0.95)
    assert bottom is not None
    top = (count - 0.5) * thickness * 0.95
    if rng.random() < 0.6:  # syrup pooled on top
        bpy.ops.mesh.primitive_cylinder_add(vertices=48, radius=radius * rng.uniform(0.5, 0.85), depth=0.02)
        syrup = bpy.context.object
        syrup.parent, syrup.location = bottom, (0, 0, top + 0.01)
        _displace(syrup, rng, 0.02, 0.5)
        syrup.data.materials.append(simple("syrup", (0.35, 0.12, 0.02), 0.05, Coat_Weight=1.0, Transmission_Weight=0.4))
    if rng.random() < 0.4:  # a pat of butter
        bpy.ops.mesh.primitive_cube_add(size=0.35)
        butter = bpy.context.object
        butter.parent, butter.location = bottom, (0, 0, top + 0.12)
        butter.scale.z = 0.5
        butter.data.materials.append(simple("butter", (0.98, 0.88, 0.5), 0.4, Subsurface_Weight=0.3))
    return bottom


FOODS = {"bagel": bagel, "donut": donut, "vada": vada}
OTHER_FOODS = {name: globals()[name] for name in OTHER_FOOD_NAMES}  # each built by its namesake above
WITH_CHUTNEYS = ("vada", "idli", "samosa", "bonda", "appam", "kachori")
DISHES = {**FOODS, **OTHER_FOODS}

# --- the set ------------------------------------------------------------------------------


def _in_units(tree: bpy.types.NodeTree, texture: bpy.types.Node) -> None:
    """Texture coordinates in scene units, not the default 0-1 over the object: over the
    60-unit table, a scale of a few made one grain stripe wider than the whole frame."""
    coords = tree.nodes.new("ShaderNodeTexCoord")
    tree.links.new(coords.outputs["Object"], texture.inputs["Vector"])


def table(rng: random.Random) -> None:
    bpy.ops.mesh.primitive_plane_add(size=60, location=(0, 0, 0))
    top = bpy.context.object
    kind = rng.choice(["wood", "wood", "marble", "cloth", "slate", "paper", "studio"])
    material, bsdf, tree = _material(kind)
    if kind == "wood":  # grain a few stripes per donut's width
        wave = tree.nodes.new("ShaderNodeTexWave")
        _in_units(tree, wave)
        wave.inputs["Scale"].default_value = rng.uniform(0.8, 2.5)
        wave.inputs["Distortion"].default_value = rng.uniform(4, 12)
        wave.inputs["Detail"].default_value = 6
        ramp = tree.nodes.new("ShaderNodeValToRGB")
        base = _jitter(rng, rng.choice([(0.35, 0.2, 0.1), (0.55, 0.38, 0.22), (0.2, 0.12, 0.07)]), 0.15)
        ramp.color_ramp.elements[0].color = (*base, 1)
        ramp.color_ramp.elements[1].color = (*(c * 1.35 for c in base), 1)
        tree.links.new(wave.outputs["Fac"], ramp.inputs["Fac"])
        tree.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
        _set(bsdf, Roughness=rng.uniform(0.35, 0.7))
    elif kind == "marble":
        veins = _noise_colour(tree, bsdf, (0.7, 0.7, 0.7), (0.95, 0.95, 0.94), rng.uniform(0.2, 0.6), detail=12)
        _in_units(tree, veins)
        _set(bsdf, Roughness=0.15)
    elif kind == "studio":  # the plain white sweep of a product photograph
        _set(bsdf, Base_Color=(0.95, 0.95, 0.95, 1), Roughness=0.9)
    elif kind == "slate":
        grain = _noise_colour(tree, bsdf, (0.05, 0.05, 0.06), (0.16, 0.16, 0.17), rng.uniform(2, 6))
        _in_units(tree, grain)
        _set(bsdf, Roughness=0.7)
    else:
        colour = rng.choice([(0.9, 0.9, 0.88), (0.7, 0.2, 0.15), (0.2, 0.3, 0.5), (0.75, 0.6, 0.4), (0.45, 0.5, 0.3)])
        weave = _noise_colour(tree, bsdf, _jitter(rng, colour), _jitter(rng, _lighter(colour)), rng.uniform(8, 20))
        _in_units(tree, weave)
        _set(bsdf, Roughness=0.9)
    top.data.materials.append(material)


def plate(rng: random.Random, radius: float, label: str) -> float:
    """A plate, a steel thali plate or a banana leaf under the food; returns its top's height."""
    kinds = ["ceramic", "ceramic", "board", "paper", "none"] + (
        ["steel", "steel", "leaf"] if label in WITH_CHUTNEYS else ["rack"]
    )
    kind = rng.choice(kinds)
    if kind == "none":
        return 0.0
    if kind == "rack":  # a wire cooling rack
        wire = simple("wire", (0.75, 0.75, 0.75), 0.3, Metallic=1.0)
        bars = int(radius * 2.6 / 0.3)
        for index in range(bars + 1):
            offset = -radius * 1.3 + index * 0.3
            for rotation, where in (((0, math.pi / 2, 0), (0, offset, 0.15)), ((math.pi / 2, 0, 0), (offset, 0, 0.17))):
                bpy.ops.mesh.primitive_cylinder_add(
                    vertices=8, radius=0.012, depth=radius * 2.6, location=where, rotation=rotation
                )
                bpy.context.object.data.materials.append(wire)
        return 0.18
    if kind == "leaf":
        bpy.ops.mesh.primitive_plane_add(size=radius * 2.6, location=(0, 0, 0.01))
        leaf = bpy.context.object
        material, bsdf, tree = _material("banana leaf")
        wave = tree.nodes.new("ShaderNodeTexWave")
        wave.inputs["Scale"].default_value = 6
        ramp = tree.nodes.new("ShaderNodeValToRGB")
        ramp.color_ramp.elements[0].color = (0.05, 0.22, 0.03, 1)
        ramp.color_ramp.elements[1].color = (0.15, 0.4, 0.08, 1)
        tree.links.new(wave.outputs["Fac"], ramp.inputs["Fac"])
        tree.links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
        _set(bsdf, Roughness=0.3)
        leaf.data.materials.append(material)
        return 0.012
    if kind in ("board", "paper"):
        bpy.ops.mesh.primitive_cube_add(size=1, location=(0, 0, 0.03 if kind == "board" else 0.003))
        slab = bpy.context.object
        slab.scale = (radius * 2.4, radius * 2.0, 0.06 if kind == "board" else 0.006)
        colour = (0.6, 0.42, 0.25) if kind == "board" else rng.choice([(0.75, 0.6, 0.42), (0.95, 0.94, 0.92)])
        slab.data.materials.append(simple(kind, _jitter(rng, colour), 0.6 if kind == "board" else 0.85))
        slab.rotation_euler.z = rng.uniform(-0.6, 0.6)
        return 0.06 if kind == "board" else 0.006
    bpy.ops.mesh.primitive_cylinder_add(vertices=96, radius=radius, depth=0.06, location=(0, 0, 0.03))
    dish = bpy.context.object
    bevel = dish.modifiers.new("rim", "BEVEL")
    bevel.width, bevel.segments = 0.05, 3
    if kind == "steel":
        dish.data.materials.append(simple("steel", (0.8, 0.8, 0.8), rng.uniform(0.15, 0.35), Metallic=1.0))
    else:
        colour = rng.choice([(0.95, 0.95, 0.93), (0.95, 0.95, 0.93), (0.9, 0.85, 0.75), (0.25, 0.3, 0.4)])
        dish.data.materials.append(simple("ceramic", colour, 0.08, Coat_Weight=0.5))
    _smooth(dish)
    return 0.06


def bowls(rng: random.Random, spread: float) -> None:
    """Chutney and sambar in small steel bowls beside the vadas."""
    for colour in rng.sample(
        [(0.93, 0.9, 0.8), (0.35, 0.55, 0.2), (0.6, 0.25, 0.06), (0.75, 0.3, 0.1)], rng.randint(1, 3)
    ):
        angle = rng.uniform(0, 2 * math.pi)
        where = Vector((math.cos(angle), math.sin(angle), 0)) * (spread + 0.5)
        bpy.ops.mesh.primitive_cylinder_add(vertices=48, radius=0.85, depth=0.35, location=where + Vector((0, 0, 0.2)))
        bowl = bpy.context.object
        bowl.data.materials.append(simple("bowl", (0.8, 0.8, 0.8), 0.2, Metallic=1.0))
        bpy.ops.mesh.primitive_cylinder_add(vertices=48, radius=0.8, depth=0.02, location=where + Vector((0, 0, 0.38)))
        bpy.context.object.data.materials.append(simple("chutney", _jitter(rng, colour), 0.3))


def lights(rng: random.Random) -> None:
    bpy.ops.object.light_add(type="SUN", rotation=(rng.uniform(0.1, 1.0), rng.uniform(-0.6, 0.6), rng.uniform(0, 6.28)))
    sun = bpy.context.object.data
    sun.energy = rng.uniform(1.5, 5.0)
    sun.angle = math.radians(rng.uniform(1, 25))  # soft shadows through a window or hard ones in the sun
    sun.color = _jitter(rng, (1.0, 0.95, 0.88), 0.06)
    angle = rng.uniform(0, 2 * math.pi)
    bpy.ops.object.light_add(type="AREA", location=(6 * math.cos(angle), 6 * math.sin(angle), rng.uniform(3, 8)))
    area = bpy.context.object
    area.data.energy = rng.uniform(200, 900)
    area.data.size = rng.uniform(2, 6)
    area.rotation_euler = (Vector((0, 0, 0)) - area.location).to_track_quat("-Z", "Y").to_euler()
    world = bpy.data.worlds.new("room")
    bpy.context.scene.world = world
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs[0].default_value = (*_jitter(rng, (0.75, 0.72, 0.68), 0.25), 1)
    world.node_tree.nodes["Background"].inputs[1].default_value = rng.uniform(0.2, 0.7)


def camera(rng: random.Random, target: Vector, spread: float, near: float = 1.1) -> None:
    lens = rng.uniform(35, 90)
    data = bpy.data.cameras.new("camera")
    data.lens = lens
    cam = bpy.data.objects.new("camera", data)
    bpy.context.scene.collection.objects.link(cam)
    bpy.context.scene.camera = cam
    elevation = math.radians(rng.uniform(25, 88))
    azimuth = rng.uniform(0, 2 * math.pi)
    # Far enough that the food fills between a third and most of the frame.
    distance = (spread + 1.2) * lens / 36 * rng.uniform(near, 2.0)
    cam.location = (
        target
        + Vector(
            (math.cos(azimuth) * math.cos(elevation), math.sin(azimuth) * math.cos(elevation), math.sin(elevation))
        )
        * distance
    )
    look = target + Vector((rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), 0))
    cam.rotation_euler = (look - cam.location).to_track_quat("-Z", "Y").to_euler()
    cam.rotation_euler.rotate_axis("Z", rng.uniform(-0.3, 0.3))
    if rng.random() < 0.7:
        data.dof.use_dof = True
        data.dof.focus_distance = (look - cam.location).length
        data.dof.aperture_fstop = rng.uniform(1.8, 8)


def _stack(rng: random.Random, label: str, height: float) -> float:
    """Items piled one on another, each a little askew; returns the pile's height."""
    top = height
    for _ in range(rng.randint(2, 5)):
        item = DISHES[label](rng, Vector((rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15), 0)))
        item.rotation_euler = (rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15), rng.uniform(0, 6.28))
        bpy.context.view_layer.update()
        corners = [(item.matrix_world @ Vector(corner)).z for corner in item.bound_box]
        item.location.z += top - min(corners) - 0.06
        top += max(corners) - min(corners) - 0.06
    return top


def box(rng: random.Random, spread: float) -> float:
    """The open cardboard box a dozen donuts come in; returns its floor's height."""
    colour = rng.choice([(0.95, 0.94, 0.92), (0.72, 0.55, 0.36), (0.93, 0.7, 0.75)])
    card = simple("cardboard", _jitter(rng, colour, 0.05), 0.85)
    width = 2 * spread + 0.6
    for x, y, scale in (
        (0, 0, (width, width, 0.02)),
        (1, 0, (0.03, width, 0.5)),
        (-1, 0, (0.03, width, 0.5)),
        (0, 1, (width, 0.03, 0.5)),
        (0, -1, (width, 0.03, 0.5)),
    ):
        bpy.ops.mesh.primitive_cube_add(size=1, location=(x * width / 2, y * width / 2, scale[2] / 2))
        side = bpy.context.object
        side.scale = scale
        side.data.materials.append(card)
    return 0.02


def scene(label: str, seed: int) -> None:
    rng = random.Random(f"{label}-{seed}")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if label == "donut":  # donuts come by the dozen, in boxes and piles, more than other foods
        count = rng.choice([1, 1, 2, 3, 4, 6, 9, 12, "stack"])
    elif label == "vada":  # vadas come in heaps too
        count = rng.choice([1, 1, 2, 2, 3, 4, 6, 9, "stack"])
    else:
        count = rng.choice([1, 1, 1, 2, 2, 3, 4, 6, "stack"])
    table(rng)
    if not isinstance(count, int):  # "stack"
        height = plate(rng, 2.2, label)
        top = _stack(rng, label, height)
        lights(rng)
        camera(rng, Vector((0, 0, (height + top) / 2)), 1.5, near=0.9)
        return
    spacing = {"donut": 2.8, "vada": 2.0}.get(label, 2.3)
    columns = math.ceil(math.sqrt(count))
    spread = spacing * (columns - 1) / 2 + 1
    height = plate(rng, spread + 0.8, label) if label != "donut" or count <= 6 else box(rng, spread)
    for index in range(count):
        row, column = divmod(index, columns)
        offset = Vector(
            (
                (column - (columns - 1) / 2) * spacing + rng.uniform(-0.25, 0.25),
                (row - (columns - 1) / 2) * spacing + rng.uniform(-0.25, 0.25),
                0,
            )
        )
        item = DISHES[label](rng, Vector((offset.x, offset.y, 0)))
        item.rotation_euler = (rng.uniform(-0.12, 0.12), rng.uniform(-0.12, 0.12), rng.uniform(0, 6.28))
        lowest = min((item.matrix_world @ Vector(corner)).z for corner in item.bound_box)
        item.location.z += height - lowest - 0.02
    if label in WITH_CHUTNEYS and rng.random() < 0.7:  # in frame: real vadas come with them more often than not
        bowls(rng, spread + 0.8)
    lights(rng)
    # Donuts are photographed close, the frame full of them.
    camera(rng, Vector((0, 0, height + 0.3)), spread, near=0.85 if label == "donut" else 1.1)


def render(job: dict[str, object], threads: int) -> None:
    scene(str(job["label"]), int(job["seed"]))  # type: ignore[call-overload]
    settings = bpy.context.scene
    settings.render.engine = "CYCLES"
    settings.cycles.device = "CPU"
    settings.cycles.samples = int(job["samples"])  # type: ignore[call-overload]
    settings.cycles.use_denoising = True
    settings.cycles.denoiser = "OPENIMAGEDENOISE"
    settings.cycles.seed = int(job["seed"])  # type: ignore[call-overload]
    settings.render.resolution_x = settings.render.resolution_y = int(job["size"])  # type: ignore[call-overload]
    settings.render.resolution_percentage = 100
    settings.render.threads_mode = "FIXED"
    settings.render.threads = threads
    settings.view_settings.view_transform = "Standard"  # AgX washes browns out to beige
    settings.view_settings.exposure = -0.6  # the lights left white plates and tables blown out
    for stamp in ("date", "time", "render_time", "frame", "camera", "scene", "filename", "memory", "hostname"):
        setattr(settings.render, f"use_stamp_{stamp}", False)  # the file holds its pixels, not when or where
    settings.render.image_settings.file_format = "JPEG"
    settings.render.image_settings.quality = 92
    settings.render.filepath = str(job["path"])
    bpy.ops.render.render(write_still=True)


if __name__ == "__main__":
    jobs = json.loads(open(sys.argv[1]).read())
    for job in jobs:
        render(job, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
        print(f"rendered {job['path']}", flush=True)
