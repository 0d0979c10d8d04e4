"""Model runtimes behind one small interface, chosen by the model file's suffix:
`.onnx` → ONNX Runtime (what the Lambda package ships), `.pt` → TorchScript.

Each runtime imports its library (chalicelib.model_formats names it) only when a model of
its kind is loaded: importing torch costs about a second, and torch is absent from the
Lambda package. Every way a file can fail to load is a ModelLoadError.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from chalicelib.errors import ModelLoadError
from chalicelib.metadata import METADATA_FILE, MetadataError, ModelMetadata, NoneRule
from chalicelib.model_formats import LIBRARIES, library_for
from chalicelib.settings import threads_for


@dataclass(frozen=True)
class Outputs:
    probabilities: np.ndarray  # float64 (N, labels), each row summing to 1
    scores: np.ndarray | None  # float64 (N,): the none-rule's score, for models that have one
    maps: np.ndarray | None = None  # float32 (N, labels, h, w): where each label's logit came from, if exported

    def recognised(self, rule: NoneRule | None) -> np.ndarray:
        """Per image, whether it looks like one of the labels; every image, without a rule."""
        if rule is None:
            return np.ones(len(self.probabilities), bool)
        recognised: np.ndarray = rule.recognises(self.scores)
        return recognised


class Runtime(Protocol):
    metadata: ModelMetadata
    name: str

    def run(self, batch: np.ndarray) -> Outputs:
        """float32 NCHW batch → the model's outputs."""


def outputs(raw: list[np.ndarray]) -> Outputs:
    """A model's raw outputs: logits (N, labels), then with a none-rule one score per image
    (N,), then in models exported with them, activation maps (N, labels, h, w)."""
    maps = next((array for array in raw[1:] if array.ndim == 4), None)
    scores = [array.astype(np.float64).reshape(-1) for array in raw[1:] if array.ndim != 4]
    return Outputs(softmax(raw[0]), scores[0] if scores else None, maps)


def tensor_outputs(result: Any) -> Outputs:
    """What a torch module returns, logits or a tuple or list of outputs, as Outputs."""
    return outputs([t.numpy() for t in result] if isinstance(result, (tuple, list)) else [result.numpy()])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probabilities: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return probabilities


@contextlib.contextmanager
def torchscript_deprecation_silenced() -> Iterator[None]:
    """torch 2.14 marks torch.jit.* deprecated (FutureWarning). TorchScript stays the
    format of record until ONNX covers every model we ship, so exactly that warning is
    silenced, here and nowhere else; every other warning still shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        yield


class TorchScriptRuntime:
    name = "torchscript"
    suffix = ".pt"

    def __init__(self, path: Path, threads: int) -> None:
        torch = importlib.import_module(LIBRARIES[self.suffix])
        torch.set_num_threads(threads)
        extra = {METADATA_FILE: ""}
        try:
            with torchscript_deprecation_silenced():
                self._module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        except Exception as exc:  # torch raises RuntimeError, ValueError or its own kinds
            raise ModelLoadError(f"TorchScript cannot load {path.name}: {exc}") from exc
        self._module.eval()
        if not extra[METADATA_FILE]:
            raise MetadataError(f"the TorchScript file has no metadata (extra file {METADATA_FILE})")
        self.metadata = ModelMetadata.from_json(extra[METADATA_FILE])
        self._torch = torch

    def run(self, batch: np.ndarray) -> Outputs:
        # Without the graph executor's optimisation, which spends the first two calls
        # (about 0.3 s of a cold start) profiling a graph whose time is all in ATen's
        # convolutions: later calls are no slower (bench/).
        with self._torch.inference_mode(), self._torch.jit.optimized_execution(False):
            result = self._module(self._torch.from_numpy(batch))
        return tensor_outputs(result)


class OnnxRuntime:
    name = "onnx"
    suffix = ".onnx"

    def __init__(self, path: Path, threads: int) -> None:
        onnxruntime = importlib.import_module(LIBRARIES[self.suffix])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # one request at a time per Lambda container
        try:
            self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime's errors share no base class narrower than this
            raise ModelLoadError(f"ONNX Runtime cannot load {path.name}: {exc}") from exc
        props = self._session.get_modelmeta().custom_metadata_map
        if METADATA_FILE not in props:
            raise MetadataError(f"the ONNX file has no {METADATA_FILE} metadata property")
        self.metadata = ModelMetadata.from_json(props[METADATA_FILE])

    def run(self, batch: np.ndarray) -> Outputs:
        return outputs(session_outputs(self._session, batch))


def session_outputs(session: Any, batch: np.ndarray) -> list[np.ndarray]:
    """An ONNX Runtime session's outputs for a batch; image by image where the graph's
    batch dimension is fixed at 1 (as some exporters leave it)."""
    image = session.get_inputs()[0]
    if image.shape[0] != 1 or len(batch) == 1:
        outs: list[np.ndarray] = session.run(None, {image.name: batch})
        return outs
    rows = [session.run(None, {image.name: row[None]}) for row in batch]
    return [np.concatenate(parts) for parts in zip(*rows)]


RUNTIMES: dict[str, type[TorchScriptRuntime] | type[OnnxRuntime]] = {
    cls.suffix: cls for cls in (OnnxRuntime, TorchScriptRuntime)
}


def load_runtime(path: Path, threads: int | None = None) -> Runtime:
    """Loads a model file and checks that its outputs match its metadata: a score per
    label, and a none-rule score exactly when the metadata has a rule (also a warm-up).

    threads: for intra-op parallelism; by default settings.threads_for this environment."""
    library_for(path)  # ModelLoadError for a suffix no runtime reads
    runtime = RUNTIMES[path.suffix](path, threads or threads_for(os.environ))
    size = runtime.metadata.input_size
    try:
        result = runtime.run(np.zeros((1, 3, size, size), np.float32))
    except Exception as exc:  # the runtime's own kinds: the graph does not take its metadata's input
        raise ModelLoadError(f"the model fails on a {size} px input, the size its metadata names: {exc}") from exc
    if result.probabilities.shape != (1, len(runtime.metadata.labels)):
        raise ModelLoadError(
            f"the model outputs {result.probabilities.shape[1]} scores for {len(runtime.metadata.labels)} labels"
        )
    if (result.scores is not None) != (runtime.metadata.none_rule is not None):
        raise ModelLoadError("the model's none-rule score output and its metadata's none_rule must come together")
    if result.scores is not None and result.scores.shape != (1,):
        raise ModelLoadError(f"the none-rule score output has shape {result.scores.shape}, not one per image")
    if result.maps is not None and result.maps.shape[:2] != (1, len(runtime.metadata.labels)):
        raise ModelLoadError(f"the activation maps have shape {result.maps.shape}, not one map per label")
    return runtime
