"""The other foods the Cycles renderer makes (devtools/renders/blender_scene.py builds each from a
function of the same name): a module of its own, so that .venv, which has no bpy, can
name them. Some are close to the demo's labels: a pretzel is baked dough like a bagel;
idli, bonda and samosa share the vada's table, an onion ring its shape."""

OTHER_FOODS = (
    "pretzel",
    "croissant",
    "cookie",
    "idli",
    "samosa",
    "muffin",
    "bonda",
    "onion_rings",
    "churro",
    "appam",
    "kachori",
    "pancakes",
)
