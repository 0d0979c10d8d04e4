"""What `python -m training import` reads a model file into, whatever its kind: a Source,
a function from the service's inputs to the model's raw outputs, what the file records of
its labels and preprocessing, and what the written file is built from (a torch module, or
the ONNX graph itself)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from chalicelib.metadata import Triple

from training.errors import ImportModelError


@dataclass
class Recorded:
    """What a model file says of itself; None where it says nothing."""

    architecture: str
    labels: tuple[str, ...] | None = None
    input_size: int | None = None
    resize_size: int | None = None
    mean: Triple | None = None
    std: Triple | None = None


@dataclass
class Source:
    kind: str  # in words: "TorchScript", "ONNX", "state_dict", "pickled nn.Module", "fastai Learner"
    recorded: Recorded
    run: Callable[[np.ndarray], np.ndarray]  # float32 NCHW inputs → the model's (N, classes) outputs
    module: Any = None  # torch kinds: the nn.Module the written file is built from
    onnx: Any = None  # ONNX: the ModelProto the written file is built from
    notes: list[str] = field(default_factory=list)  # what was assumed, for the command to say


def torch_run(module: Any) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    module.eval()

    def run(inputs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(inputs))
        if isinstance(out, (tuple, list)):
            raise ImportModelError(f"the model returns {len(out)} outputs; import reads a model with one")
        return out.float().numpy()

    return run


def triple(values: Any) -> Triple:
    first, second, third = (float(v) for v in values)
    return first, second, third
