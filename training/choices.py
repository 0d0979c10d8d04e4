"""The values training's options accept, in a module without torch, so that `--help` and
the commands that need no torch (publish, evaluate of an ONNX file) run without it."""

ARCHITECTURES = ("efficientnet_lite0", "resnet18", "resnet34", "resnet50")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRETRAINED_SCORES = ("feature_distance", "reference_mass")  # none-rule scores of a pretrained network
