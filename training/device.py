"""Where training runs (`--device auto|cpu|cuda|mps`), and what follows from it: mixed
precision on CUDA, and how many processes decode and augment images beside it."""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch
from chalicelib.settings import usable_cpus

from training.choices import DEVICES
from training.errors import DeviceError

MAX_LOADER_WORKERS = 8  # past this, decoding outruns any one GPU this network trains on


def available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return torch.backends.mps.is_available()
    return kind == "cpu"


def choose(requested: str) -> torch.device:
    """auto: CUDA when present, then Apple's MPS, then the CPU."""
    if requested == "auto":
        return torch.device(next(kind for kind in ("cuda", "mps", "cpu") if available(kind)))
    if requested not in DEVICES:
        raise DeviceError(f"--device {requested}: choose one of {', '.join(DEVICES)}")
    if not available(requested):
        why = (
            "this torch has no CUDA support, or sees no NVIDIA GPU"
            if requested == "cuda"
            else "this torch sees no Apple GPU (MPS needs macOS 12.3+ on Apple silicon)"
        )
        raise DeviceError(f"--device {requested}: {why}; --device auto picks what there is")
    return torch.device(requested)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def mixed_precision(device: torch.device) -> bool:
    """float16 autocast where it is fast and its gradients are scaled: CUDA. MPS's
    autocast covers fewer operations, so MPS trains in float32 like the CPU."""
    return device.type == "cuda"


def autocast(device: torch.device) -> ContextManager:
    if mixed_precision(device):
        return torch.autocast(device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def loader_workers() -> int:
    """Processes decoding and augmenting training images: one CPU stays with the training
    loop (and, on the CPU device, with torch's own threads)."""
    return max(1, min(MAX_LOADER_WORKERS, usable_cpus() - 1))
