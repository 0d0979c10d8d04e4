"""The demo's network beside ResNet-18: the bare ONNX Runtime forward of each, at the demo's
input size, with the service's thread count. ResNet-18's weights are random: its time
does not depend on their values."""

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
    from training.export import export
    from training.networks import build_network

    threads = threads_for(os.environ)
    demo = load_runtime(demo_onnx, threads)
    meta = demo.metadata
    resnet_file = work / "resnet18.onnx"
    resnet_meta = replace(meta, architecture="resnet18", none_rule=None)
    size = meta.input_size
    check = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 3, size, size)).astype(np.float32))
    export(build_network("resnet18", len(meta.labels)), resnet_meta, resnet_file, check)
    resnet = load_runtime(resnet_file, threads)
    batch = check[:1].numpy()
    cells = {
        f"{meta.architecture} (demo: both heads)": functools.partial(demo.run, batch),
        "resnet18": functools.partial(resnet.run, batch),
    }
    return {"input_size": size, "threads": threads, "forward_ms": interleaved(cells, n)}
