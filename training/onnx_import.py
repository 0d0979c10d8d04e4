"""An ONNX classifier made elsewhere: checked to take one NCHW float image and give one row
of class scores, and rewritten with the outputs the service reads (logits, and the
none-rule's score where there is a rule) and the metadata it describes itself with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from chalicelib.metadata import ModelMetadata
from chalicelib.runtimes import session_outputs

from training.errors import ImportModelError
from training.model_source import Recorded, Source

FLOAT = 1  # onnx.TensorProto.FLOAT
# Probabilities are turned into logits as log(max(p, EPSILON)): the service's softmax of those is p again.
EPSILON = 1e-12


def read_onnx(path: Path) -> Source:
    import onnx
    import onnxruntime

    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and others with no common base
        raise ImportModelError(f"{path} is not an ONNX file onnx can read: {exc}") from exc
    image = _image_input(proto, path)
    if len(proto.graph.output) != 1:
        names = ", ".join(o.name for o in proto.graph.output)
        raise ImportModelError(
            f"{path} has {len(proto.graph.output)} outputs ({names}); import reads one of class scores"
        )
    dims = [d.dim_value or None for d in image.type.tensor_type.shape.dim]
    side = dims[2] if dims[2] and dims[2] == dims[3] else None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime's errors share no narrower base
        raise ImportModelError(f"ONNX Runtime cannot load {path}: {exc}") from exc

    def run(inputs: np.ndarray) -> np.ndarray:
        return session_outputs(session, inputs)[0]

    recorded = Recorded(f"ONNX {proto.graph.name or path.stem}", input_size=side)
    notes = [] if side or not dims[2] else [f"the graph takes {dims[2]}x{dims[3]} images; the service feeds squares"]
    return Source("ONNX", recorded, run, onnx=proto, notes=notes)


def _image_input(proto: Any, path: Path) -> Any:
    initialised = {init.name for init in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initialised]
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ImportModelError(f"{path} has {len(inputs)} inputs ({names}); import reads a model with one image input")
    tensor = inputs[0].type.tensor_type
    dims = [d.dim_value or None for d in tensor.shape.dim]
    if tensor.elem_type != FLOAT or len(dims) != 4 or dims[1] not in (3, None):
        shape = "x".join(str(d or "?") for d in dims)
        raise ImportModelError(
            f"{path}'s input {inputs[0].name} is not an image tensor: it takes {shape} "
            f"(element type {tensor.elem_type}), where import needs float32 N x 3 x H x W"
        )
    return inputs[0]


def wrapped(proto: Any, ends_in: str, meta: ModelMetadata) -> Any:
    """A copy of proto whose first output is logits (the original's, or log-probabilities,
    or the log of its probabilities), then with a rule its score, with meta inside."""
    import onnx
    from onnx import helper, numpy_helper

    from training.export import stamp

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    original = graph.output[0].name
    taken = {name for node in graph.node for name in [*node.input, *node.output]} | {i.name for i in graph.input}
    fresh = _namer(taken)
    batch = _image_input(model, Path("the model")).type.tensor_type.shape.dim[0]
    rows: int | str = batch.dim_value or batch.dim_param or "batch"  # fixed at 1: the runtime runs one at a time
    logits = fresh("logits")
    if ends_in == "probabilities":
        floor = fresh("epsilon")
        graph.initializer.append(numpy_helper.from_array(np.array(EPSILON, np.float32), floor))
        clipped = fresh("clipped")
        graph.node.extend(
            [helper.make_node("Max", [original, floor], [clipped]), helper.make_node("Log", [clipped], [logits])]
        )
    else:
        graph.node.append(helper.make_node("Identity", [original], [logits]))
    outputs = [helper.make_tensor_value_info(logits, FLOAT, [rows, len(meta.labels)])]
    if meta.none_rule is not None:
        score = fresh("none_score")
        graph.node.extend(_score_nodes(meta.none_rule.score, logits, score, model, fresh))
        outputs.append(helper.make_tensor_value_info(score, FLOAT, [rows]))
    del graph.output[:]
    graph.output.extend(outputs)
    stamp(model, meta)
    onnx.checker.check_model(model)
    return model


def _score_nodes(kind: str, logits: str, score: str, model: Any, fresh: Any) -> list[Any]:
    """The nodes that compute the none-rule's score from logits, as training/none_rule.py's
    WithMaxProbability and WithEnergy do."""
    from onnx import helper, numpy_helper

    def constant(value: float) -> str:
        name = fresh("constant")
        model.graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))
        return name

    if kind == "max_probability":
        probabilities = fresh("probabilities")
        return [
            helper.make_node("Softmax", [logits], [probabilities], axis=1),
            _reduce(model, "ReduceMax", probabilities, score, fresh),
        ]
    if kind != "energy":
        raise ImportModelError(f"an imported ONNX model cannot compute the {kind} score")
    energy, size, plus_one, ratio, half = (fresh(stem) for stem in ("energy", "size", "plus_one", "ratio", "half"))
    return [
        _reduce(model, "ReduceLogSumExp", logits, energy, fresh),
        helper.make_node("Abs", [energy], [size]),
        helper.make_node("Add", [size, constant(1.0)], [plus_one]),
        helper.make_node("Div", [energy, plus_one], [ratio]),
        helper.make_node("Mul", [ratio, constant(0.5)], [half]),
        helper.make_node("Add", [half, constant(0.5)], [score]),
    ]


def _reduce(model: Any, op: str, data: str, out: str, fresh: Any) -> Any:
    """A reduction over axis 1: its axes an input from opset 18 on, an attribute before."""
    from onnx import helper, numpy_helper

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 18)
    if opset < 18:
        return helper.make_node(op, [data], [out], axes=[1], keepdims=0)
    axes = fresh("axes")
    model.graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), axes))
    return helper.make_node(op, [data, axes], [out], keepdims=0)


def _namer(taken: set[str]) -> Any:
    def fresh(stem: str) -> str:
        name, n = stem, 1
        while name in taken:
            n += 1
            name = f"{stem}_{n}"
        taken.add(name)
        return name

    return fresh
