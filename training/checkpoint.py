"""Trained weights on disk: a state_dict beside the metadata that describes it."""

from __future__ import annotations

from pathlib import Path

import torch
from chalicelib.metadata import ModelMetadata
from torch import nn

from training.networks import FeatureDistance, Network, build_network
from training.served_model import read_metadata


def save_checkpoint(model: nn.Module, meta: ModelMetadata, out: Path, half: bool = False) -> None:
    """half stores float16 weights: half the bytes, for checkpoints committed to git. The
    none-rule's feature distance stays float32: its inverse variances span decades."""
    out.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.half() if half and v.is_floating_point() and not k.startswith("distance.") else v)
        for k, v in model.state_dict().items()
    }
    torch.save(state, out / "weights.pt")
    (out / "metadata.json").write_text(meta.to_json() + "\n")


def load_checkpoint(folder: Path) -> tuple[Network, ModelMetadata]:
    meta = read_metadata(folder / "metadata.json")
    state = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
    model = build_network(meta.architecture, len(meta.labels), reference="reference.weight" in state)
    if "distance.basis" in state:
        classes, features = state["distance.centres"].shape
        model.distance = FeatureDistance(classes, features, state["distance.basis"].shape[1])
    if "known.weight" in state:
        model.known = nn.Linear(state["known.weight"].shape[1], 1)
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    return model.eval(), meta
