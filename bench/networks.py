"""The demo's network beside the other backbones train offers: the bare ONNX Runtime forward
of each, with the service's thread count; EfficientNet-Lite0, -Lite1 and -Lite2 at their own
input sizes (224, 240, 260 px), ResNet-18 at the demo's. Their weights are random: a
forward's time does not depend on their values."""

from __future__ import annotations

import functools
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from chalicelib.runtimes import load_runtime
from chalicelib.settings import threads_for

from bench.worker import interleaved


def forward_times(demo_onnx: Path, work: Path, n: int) -> dict[str, Any]:
    import torch
    from training.choices import ARCHITECTURES
    from training.export import export
    from training.networks import build_network

    threads = threads_for(os.environ)
    demo = load_runtime(demo_onnx, threads)
    meta = demo.metadata
    cells = {
        f"{meta.architecture} (demo: both heads, {meta.input_size} px)": functools.partial(
            demo.run, _batch(meta.input_size)
        )
    }
    for architecture, size in (
        *((name, arch.input_size) for name, arch in ARCHITECTURES.items() if arch.family == "lite"),
        ("resnet18", meta.input_size),
    ):
        path = work / f"{architecture}.onnx"
        check = torch.from_numpy(_batch(size, 2))
        bare = replace(meta, architecture=architecture, input_size=size, resize_size=size, none_rule=None)
        export(build_network(architecture, len(meta.labels)), bare, path, check)
        cells[f"{architecture} ({size} px)"] = functools.partial(load_runtime(path, threads).run, _batch(size))
    return {"threads": threads, "forward_ms": interleaved(cells, n)}


def _batch(size: int, count: int = 1) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(count, 3, size, size)).astype(np.float32)
