"""The seed of each rendered image, shared by both renderers (devtools/renders/pillow.py, Pillow;
devtools/renders/blender.py, Cycles), so that a tree renders the same on any machine and in
any number of worker processes."""


def image_seed(seed: int, kind: int, index: int) -> int:
    """One seed per image (index) of a kind of food, independent of the worker that renders it."""
    return seed * 1_000_003 + kind * 100_003 + index
