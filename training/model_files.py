"""Image classifiers made elsewhere, read for `python -m training import`: a TorchScript
file, an ONNX file, a state_dict of a torchvision or timm model, a pickled nn.Module, or a
fastai Learner saved by `learn.export()`.

Each becomes a Source (training/model_source.py). Nothing is unpickled with code unless
the user said they trust the file (--trust-pickle)."""

from __future__ import annotations

import importlib
import re
import zipfile
from pathlib import Path
from typing import Any

from training.choices import ARCHITECTURES
from training.errors import ImportModelError, WeightsError
from training.model_source import Recorded, Source, torch_run, triple


def read_source(path: Path, architecture: str | None, trust_pickle: bool) -> Source:
    if not path.is_file():
        raise ImportModelError(f"{path} is not a file")
    if path.suffix.lower() == ".onnx":
        from training.onnx_import import read_onnx

        return read_onnx(path)
    if _is_torchscript(path):
        return _torchscript(path)
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's UnpicklingError, or a file that is no torch file at all
        pickled = re.search(r"GLOBAL (\S+) was not an allowed global", str(exc))
        if pickled is None:
            raise ImportModelError(
                f"{path} is none of the kinds import reads (TorchScript, ONNX, a state_dict, a pickled "
                f"nn.Module, a fastai export.pkl): {str(exc).splitlines()[0]}"
            ) from exc
        return _pickled(path, pickled[1], trust_pickle)
    return _state_dict(path, loaded, architecture)


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def _torchscript(path: Path) -> Source:
    import torch
    from chalicelib.runtimes import torchscript_deprecation_silenced

    with torchscript_deprecation_silenced():
        module = torch.jit.load(str(path), map_location="cpu")
    return Source("TorchScript", Recorded(f"TorchScript {path.name}"), torch_run(module), module=module)


def _pickled(path: Path, first_global: str, trust_pickle: bool) -> Source:
    from_fastai = first_global.startswith("fastai.")
    if from_fastai:
        from chalicelib.runtimes import torchscript_deprecation_silenced

        try:
            with torchscript_deprecation_silenced():  # fastai scripts a few functions as it is imported
                importlib.import_module("fastai.learner")  # what the pickle names
        except ImportError as exc:
            raise ImportModelError(
                f"{path} is a fastai Learner: reading it needs fastai (.venv/bin/pip install fastai)"
            ) from exc
    if not trust_pickle:
        raise ImportModelError(
            f"{path} holds pickled Python objects ({first_global}), and loading it runs code the file names: "
            "pass --trust-pickle if you trust where it came from"
        )
    if from_fastai:
        from training.fastai_import import read_learner

        return read_learner(path)
    import torch

    module = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(module, torch.nn.Module):
        raise ImportModelError(f"{path} holds a {type(module).__name__}, not an nn.Module")
    return Source("pickled nn.Module", Recorded(type(module).__name__), torch_run(module), module=module)


def _state_dict(path: Path, loaded: Any, architecture: str | None) -> Source:
    import torch

    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded
    if not (isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values())):
        raise ImportModelError(f"{path} holds a {type(loaded).__name__}, not a state_dict of tensors")
    if architecture is None:
        raise ImportModelError(
            f"{path} is a state_dict: name its network with --architecture (one of {', '.join(ARCHITECTURES)}, "
            "or torchvision:NAME, or timm:NAME)"
        )
    if architecture in ARCHITECTURES:
        network, recorded = _network(architecture, state)
        return Source("state_dict", recorded, torch_run(network), module=network)
    module, recorded = _build(architecture, state)
    _check_fit(module.state_dict(), state, architecture)
    module.load_state_dict(state)
    return Source("state_dict", recorded, torch_run(module), module=module)


def _check_fit(expected: dict[str, Any], state: dict[str, Any], architecture: str) -> None:
    missing, unexpected = _mismatch(expected, state)
    if missing or unexpected:
        raise WeightsError(f"the weights do not fit {architecture}: {missing or unexpected}")


def _network(architecture: str, state: dict[str, Any]) -> tuple[Any, Recorded]:
    """One of train's networks (training/networks.py), the weights' classifier as its head:
    pooled features, so the feature-distance rule and activation maps, as for a trained one."""
    from training.networks import build_network

    known = ARCHITECTURES[architecture]
    network = build_network(architecture, _head_size(state), reference=False)
    classifier = "classifier" if known.family == "lite" else "fc"  # timm's and torchvision's name for it

    def theirs(ours: str) -> str:
        part, _, rest = ours.partition(".")
        return f"{classifier}.{rest}" if part == "head" else rest

    own = network.state_dict()
    names = {theirs(key): key for key in own}
    _check_fit({name: own[key] for name, key in names.items()}, state, architecture)
    network.load_state_dict({names[name]: tensor for name, tensor in state.items()})
    return network, Recorded(architecture, input_size=known.input_size, mean=known.mean, std=known.std)


def _mismatch(expected: dict[str, Any], state: dict[str, Any]) -> tuple[str, str]:
    """(the first tensor the network has and the weights lack or shape otherwise, the first
    the weights have and the network does not), each "" where there is none."""
    for key, tensor in expected.items():
        if key not in state:
            return f"they lack {key}", ""
        if tuple(state[key].shape) != tuple(tensor.shape):
            return f"{key} is {tuple(state[key].shape)} where it needs {tuple(tensor.shape)}", ""
    extra = next((key for key in state if key not in expected), None)
    return "", f"they hold {extra}, which it has no place for" if extra else ""


def _build(architecture: str, state: dict[str, Any]) -> tuple[Any, Recorded]:
    """The network architecture names, with as many outputs as the weights' last layer."""
    library, _, name = architecture.partition(":")
    if not name or library not in ("timm", "torchvision"):
        raise ImportModelError(
            f"unknown architecture {architecture!r}: one of {', '.join(ARCHITECTURES)}, or torchvision:NAME, "
            "or timm:NAME"
        )
    classes = _head_size(state)
    if library == "timm":
        import timm

        if name not in timm.list_models():
            raise ImportModelError(f"timm has no model {name!r}")
        module = timm.create_model(name, pretrained=False, num_classes=classes)
        cfg: Any = module.pretrained_cfg
        side = int(cfg["input_size"][-1])
        recorded = Recorded(
            architecture,
            input_size=side,
            resize_size=round(side / float(cfg.get("crop_pct", 0.875))),
            mean=triple(cfg["mean"]),
            std=triple(cfg["std"]),
        )
        return module, recorded
    import torchvision

    if name not in torchvision.models.list_models():
        raise ImportModelError(f"torchvision has no model {name!r}")
    module = torchvision.models.get_model(name, weights=None, num_classes=classes)
    return module, Recorded(architecture)


def _head_size(state: dict[str, Any]) -> int:
    """The output count: the rows of the state_dict's last matrix (its classifier's weight)."""
    matrices = [tensor for key, tensor in state.items() if key.endswith("weight") and tensor.ndim == 2]
    if not matrices:
        raise ImportModelError("the state_dict holds no classifier layer (no 2-D weight)")
    return int(matrices[-1].shape[0])
