"""`python -m training import`: classifiers made elsewhere, each made here by the test at
random initialisation (nothing downloaded), served through the service's own loader and
checked against the original on real photos; and every mistake as one line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from chalicelib.runtimes import load_runtime, softmax
from devtools.renders.pillow import synth
from PIL import Image
from torch import nn
from training.__main__ import main
from training.choices import OUTPUT_SCORES
from training.dataset import service_input
from training.none_scores import output_scores

from tests.support import fastai_export

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parent.parent / "chalicelib" / "examples"
PHOTO = EXAMPLES / "donut.jpg"


def tiny(classes: int = 3, ends: nn.Module | None = None) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes)]
    return nn.Sequential(*layers, *([ends] if ends else [])).eval()


def onnx_file(model: nn.Module, path: Path, example: torch.Tensor | tuple[torch.Tensor, ...]) -> Path:
    examples = example if isinstance(example, tuple) else (example,)
    torch.onnx.export(model, examples, str(path), dynamo=True, external_data=False, verbose=False)
    return path


def imported(capsys: pytest.CaptureFixture[str], model: Path, out: Path, *options: str) -> str:
    """import as a user runs it; what it printed."""
    code = main(["import", str(model), "--out", str(out), "--name", "mine", "--version", "1.0.0", *options])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return printed.out


def served_probabilities(model_file: Path, photo: Path = PHOTO) -> tuple[np.ndarray, np.ndarray]:
    """The served file's probabilities for photo, and the input the service fed it."""
    runtime = load_runtime(model_file)
    inputs = service_input(photo, runtime.metadata)
    return runtime.run(inputs).probabilities[0], inputs


def original_probabilities(model: nn.Module, inputs: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return softmax(model(torch.from_numpy(inputs)).numpy())[0]


def test_a_torchscript_file_is_served_as_the_original_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny()
    torch.jit.save(torch.jit.script(model), str(tmp_path / "scripted.pt"))
    said = imported(capsys, tmp_path / "scripted.pt", tmp_path / "out.onnx", "--labels", "bagel,donut,vada")
    assert "read" in said and "as TorchScript" in said and "input size 224 px assumed" in said
    served, inputs = served_probabilities(tmp_path / "out.onnx")
    np.testing.assert_allclose(served, original_probabilities(model, inputs), atol=1e-4)
    meta = load_runtime(tmp_path / "out.onnx").metadata
    assert meta.labels == ("bagel", "donut", "vada") and meta.none_rule is None
    assert meta.mean == (0.485, 0.456, 0.406) and meta.training["imported_from"]["kind"] == "TorchScript"


@pytest.mark.parametrize("ends", ["logits", "probabilities"])
def test_an_onnx_file_is_served_whatever_it_ends_in(
    ends: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny(ends=nn.Softmax(dim=1) if ends == "probabilities" else None)
    source = onnx_file(model, tmp_path / "theirs.onnx", torch.zeros(1, 3, 96, 96))
    labels = tmp_path / "labels.txt"
    labels.write_text("bagel\ndonut\nvada\n")
    said = imported(capsys, source, tmp_path / "out.onnx", "--labels", str(labels))
    assert f"its output read as {ends}" in said
    runtime = load_runtime(tmp_path / "out.onnx")
    assert runtime.metadata.input_size == 96 and runtime.metadata.resize_size == 110  # from the graph's fixed size
    served, inputs = served_probabilities(tmp_path / "out.onnx")
    expected = original_probabilities(tiny(), inputs)  # the same weights, logits
    np.testing.assert_allclose(served, expected, atol=1e-4)


def test_a_torchvision_state_dict_is_served_with_its_head_size_from_the_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torchvision

    torch.manual_seed(1)
    model = torchvision.models.resnet18(num_classes=4).eval()
    torch.save(model.state_dict(), tmp_path / "resnet18.pth")
    imported(
        capsys, tmp_path / "resnet18.pth", tmp_path / "out.onnx", "--architecture", "resnet18", "--labels", "a,b,c,d"
    )
    served, inputs = served_probabilities(tmp_path / "out.onnx")
    np.testing.assert_allclose(served, original_probabilities(model, inputs), atol=1e-4)


@pytest.mark.parametrize("rule", ["feature_distance", "auto"])
def test_a_state_dict_of_a_network_train_knows_can_have_the_feature_distance_rule(
    rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torchvision

    torch.manual_seed(3)
    model = torchvision.models.resnet18(num_classes=3).eval()
    torch.save(model.state_dict(), tmp_path / "resnet18.pth")
    photos = tmp_path / "photos"
    synth(photos, per_class=6, seed=2, size=64)
    options = [
        "--architecture",
        "resnet18",
        "--labels",
        "bagel,donut,vada",
        "--calibration-images",
        str(photos / "train"),
    ]
    imported(capsys, tmp_path / "resnet18.pth", tmp_path / "out.onnx", *options, "--none-rule", rule)
    runtime = load_runtime(tmp_path / "out.onnx")
    chosen = runtime.metadata.none_rule
    assert chosen is not None
    if rule == "auto":
        assert set(chosen.calibration["chosen_from"]) == {"max_probability", "energy", "feature_distance"}
    else:
        assert chosen.score == "feature_distance"
    served, inputs = served_probabilities(tmp_path / "out.onnx")
    np.testing.assert_allclose(served, original_probabilities(model, inputs), atol=1e-4)
    result = runtime.run(inputs)
    assert result.scores is not None and 0 <= result.scores[0] <= 1
    assert result.maps is not None and result.maps.shape[:2] == (1, 3)  # explain=1 works as for a trained model


def test_a_timm_state_dict_takes_its_preprocessing_from_timm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import timm

    torch.manual_seed(2)
    model = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=3).eval()
    torch.save({"state_dict": model.state_dict()}, tmp_path / "checkpoint.pt")
    out = tmp_path / "out.onnx"
    imported(
        capsys, tmp_path / "checkpoint.pt", out, "--architecture", "timm:mobilenetv3_small_050", "--labels", "a,b,c"
    )
    meta = load_runtime(out).metadata
    assert (meta.input_size, meta.resize_size) == (224, 256)  # timm's crop_pct 0.875
    served, inputs = served_probabilities(out)
    np.testing.assert_allclose(served, original_probabilities(model, inputs), atol=1e-4)


@pytest.mark.parametrize("rule", ["max_probability", "energy", "auto"])
def test_calibration_images_give_a_rule_read_from_the_logits(
    rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tiny()
    torch.jit.save(torch.jit.script(model), str(tmp_path / "scripted.pt"))
    photos = tmp_path / "photos"
    synth(photos, per_class=4, seed=1, size=64)
    options = ["--labels", "bagel,donut,vada", "--calibration-images", str(photos), "--none-rule", rule]
    said = imported(capsys, tmp_path / "scripted.pt", tmp_path / "out.onnx", *options)
    runtime = load_runtime(tmp_path / "out.onnx")
    chosen = runtime.metadata.none_rule
    assert chosen is not None and chosen.calibration["validation_images"] == len(list(photos.rglob("*.jpg")))
    assert f"none-rule: {chosen.score}, accepting an image whose score is at least " in said
    assert f" photos of {photos} accepted" in said
    assert chosen.score == rule if rule != "auto" else set(chosen.calibration["chosen_from"]) == set(OUTPUT_SCORES)
    inputs = service_input(PHOTO, runtime.metadata)
    with torch.inference_mode():
        logits = model(torch.from_numpy(inputs)).double().numpy()
    scores = runtime.run(inputs).scores
    assert scores is not None
    np.testing.assert_allclose(scores[0], output_scores(logits)[chosen.score][0], atol=1e-4)


def test_an_onnx_model_of_probabilities_gets_a_max_probability_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = onnx_file(tiny(ends=nn.Softmax(dim=1)), tmp_path / "theirs.onnx", torch.zeros(1, 3, 64, 64))
    photos = tmp_path / "photos"
    synth(photos, per_class=4, seed=1, size=64)
    options = ["--labels", "bagel,donut,vada", "--calibration-images", str(photos)]
    imported(capsys, source, tmp_path / "out.onnx", *options)
    runtime = load_runtime(tmp_path / "out.onnx")
    assert runtime.metadata.none_rule is not None and runtime.metadata.none_rule.score == "max_probability"
    inputs = service_input(PHOTO, runtime.metadata)
    result = runtime.run(inputs)
    assert result.scores is not None
    np.testing.assert_allclose(result.scores[0], original_probabilities(tiny(), inputs).max(), atol=1e-4)
    energy = one_line_error(
        capsys,
        [
            "import",
            str(source),
            "--out",
            str(tmp_path / "e.onnx"),
            "--name",
            "m",
            "--version",
            "1",
            *options,
            "--none-rule",
            "energy",
        ],
    )
    assert "--none-rule energy needs logits, and the model outputs probabilities" in energy
    distance = one_line_error(
        capsys,
        [
            "import",
            str(source),
            "--out",
            str(tmp_path / "d.onnx"),
            "--name",
            "m",
            "--version",
            "1",
            *options,
            "--none-rule",
            "feature_distance",
        ],
    )
    assert "feature_distance needs pooled features, which an imported ONNX does not expose" in distance


@pytest.fixture(scope="module")
def fastai_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fastai_export(tmp_path_factory.mktemp("fastai"))


def test_a_fastai_export_is_served_as_learn_predict_answers(
    fastai_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastai.learner import load_learner

    out = tmp_path / "out.onnx"
    imported(capsys, fastai_file, out, "--trust-pickle")
    meta = load_runtime(out).metadata
    assert meta.labels == ("bagel", "donut", "vada") and (meta.input_size, meta.resize_size) == (64, 64)
    assert meta.mean == (0.0, 0.0, 0.0)  # vision_learner normalises only pretrained bodies
    photo = tmp_path / "photo.png"  # already the Learner's size: its Resize and the service's crop leave it be
    Image.open(PHOTO).convert("RGB").resize((64, 64)).save(photo)
    served, _ = served_probabilities(out, photo)
    with pytest.warns(UserWarning):  # fastai's own: load_learner unpickles
        learn = load_learner(fastai_file, cpu=True)
    label, _, probabilities = learn.predict(photo)
    assert meta.labels[int(np.argmax(served))] == label
    np.testing.assert_allclose(served, probabilities.numpy(), atol=1e-4)


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_mistakes_are_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    out = ["--out", str(tmp_path / "out.onnx"), "--name", "mine", "--version", "1"]
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(tiny()), str(scripted))
    assert "2 labels for the model's 3 outputs" in one_line_error(
        capsys, ["import", str(scripted), "--labels", "a,b", *out]
    )
    assert "records no labels" in one_line_error(capsys, ["import", str(scripted), *out])

    flat = onnx_file(nn.Linear(10, 3).eval(), tmp_path / "flat.onnx", torch.zeros(1, 10))
    assert "is not an image tensor" in one_line_error(capsys, ["import", str(flat), "--labels", "a,b,c", *out])

    class Two(nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return (x + y).mean(dim=(2, 3))

    two = onnx_file(Two().eval(), tmp_path / "two.onnx", (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)))
    assert "has 2 inputs" in one_line_error(capsys, ["import", str(two), "--labels", "a,b,c", *out])

    import torchvision

    state = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), state)
    mismatch = one_line_error(capsys, ["import", str(state), "--architecture", "resnet34", "--labels", "a,b,c", *out])
    assert "the weights do not fit resnet34: they lack layer1.2." in mismatch
    assert "--architecture" in one_line_error(capsys, ["import", str(state), "--labels", "a,b,c", *out])

    pickled = tmp_path / "module.pt"
    torch.save(tiny(), pickled)
    assert "pass --trust-pickle" in one_line_error(capsys, ["import", str(pickled), "--labels", "a,b,c", *out])
    assert not (tmp_path / "out.onnx").exists()
    assert main(["import", str(pickled), "--labels", "a,b,c", "--trust-pickle", *out]) == 0


def test_a_fastai_export_without_fastai_names_what_to_install(
    fastai_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    # In process: every environment here with torch (which import needs) has fastai too.
    for name in [n for n in sys.modules if n == "fastai" or n.startswith("fastai.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastai", None)  # what a Python without fastai does on import
    err = one_line_error(
        capsys, ["import", str(fastai_file), "--out", str(tmp_path / "m.onnx"), "--name", "m", "--version", "1"]
    )
    assert "reading it needs fastai (.venv/bin/pip install fastai)" in err
