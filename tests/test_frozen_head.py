"""The fast path of `train`: images decoded once into the image cache, the frozen
backbone's features computed once per view, and a logistic-regression head fitted on them."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from chalicelib.imaging import centre_square, decode, preprocess
from chalicelib.metadata import ModelMetadata
from devtools.renders.pillow import CLASSES, synth
from PIL import Image
from training.__main__ import main
from training.dataset import scan, split_parts
from training.errors import DatasetError
from training.features import pooled_features
from training.head import STRENGTHS, fit_head
from training.networks import backbone_blocks, build_network

from training import image_cache

pytestmark = pytest.mark.slow

LITE0_META = ModelMetadata("probe", "0", "efficientnet_lite0", CLASSES, 64, 73, (0.5,) * 3, (0.5,) * 3)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small-data")
    synth(out, per_class=10, seed=5, size=96)
    return out


def jpeg(size: tuple[int, int], seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_an_image_is_decoded_once_and_kept_by_its_content(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg((1600, 1200)))
    view = image_cache.service_view(photo, 256, 224)
    served = centre_square(decode(photo.read_bytes(), 256, 10**9), 256, 224)
    np.testing.assert_array_equal(view, served)  # the service's very pixels
    assert view.shape == (224, 224, 3) and view.dtype == np.uint8
    entry = max(image_cache.cache_dir().glob("*-256-224.rgb"), key=lambda p: p.stat().st_mtime)
    # Read back from the cache, not decoded again: the entry is what a second read returns.
    entry.write_bytes(bytes(224 * 224 * 3))
    assert image_cache.service_view(photo, 256, 224).max() == 0
    # An entry of the wrong length (another run cut off mid-write) is decoded again.
    entry.write_bytes(b"cut")
    np.testing.assert_array_equal(image_cache.service_view(photo, 256, 224), served)
    # New bytes at the same path are a new entry; other sizes too.
    photo.write_bytes(jpeg((1600, 1200), seed=1))
    assert image_cache.service_view(photo, 256, 224).max() > 0
    assert image_cache.service_view(photo, 73, 64).shape == (64, 64, 3)


def test_a_truncated_photo_is_unreadable_and_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    photo = tmp_path / "cut.jpg"
    photo.write_bytes(jpeg((800, 600), seed=7)[:-400])
    before = set(image_cache.cache_dir().glob("*")) if image_cache.cache_dir().exists() else set()
    with pytest.raises(image_cache.UnreadableImage, match="truncated"):
        image_cache.service_view(photo, 146, 128)
    assert set(image_cache.cache_dir().glob("*")) == before


def test_a_cache_that_cannot_be_written_still_decodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("where the cache folder should be")  # no folder can be made here, even by root
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg((300, 200)))
    assert image_cache.service_view(photo, 114, 100).shape == (100, 100, 3)


def test_the_head_is_the_logistic_regression_folded_onto_raw_features() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (3, 40)) * 3 + 5
    x = np.concatenate([c + rng.normal(0, 1, (30, 40)) for c in centres]).astype(np.float32)
    y = np.repeat([0, 1, 2], 30)
    val_x = np.concatenate([c + rng.normal(0, 1, (5, 40)) for c in centres]).astype(np.float32)
    val_y = np.repeat([0, 1, 2], 5)
    head = fit_head(x, y, val_x, val_y, 3)
    assert head.strength in STRENGTHS and head.converged and head.val_accuracy == 1.0
    with torch.no_grad():
        predicted = head.layer(torch.from_numpy(val_x)).argmax(1).numpy()
    assert (predicted == val_y).all()


def test_two_labels_give_two_logits() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-2, 1, (20, 8)), rng.normal(2, 1, (20, 8))]).astype(np.float32)
    y = np.repeat([0, 1], 20)
    head = fit_head(x, y, x[::4], y[::4], 2)
    with torch.no_grad():
        logits = head.layer(torch.from_numpy(x))
    assert logits.shape == (40, 2) and (logits.argmax(1).numpy() == y).mean() > 0.95


def test_the_first_view_is_the_service_view_and_a_seed_repeats_the_rest(small_data: Path) -> None:
    network = build_network("efficientnet_lite0", 3, pretrained=True)
    files = [path for path, _ in scan(small_data / "train", (LITE0_META.resize_size, LITE0_META.input_size)).samples][
        :4
    ]
    torch.manual_seed(0)
    first = pooled_features(network.backbone, files, LITE0_META, augmented=2)
    torch.manual_seed(0)
    again = pooled_features(network.backbone, files, LITE0_META, augmented=2)
    assert first.shape == (4, 3, 1280)
    np.testing.assert_array_equal(first, again)
    service = torch.from_numpy(
        np.concatenate([preprocess(decode(f.read_bytes(), LITE0_META.resize_size, 10**9), LITE0_META) for f in files])
    )
    with torch.inference_mode():
        expected = network.backbone.eval()(service).numpy()
    np.testing.assert_allclose(first[:, 0], expected, atol=1e-4)
    assert not np.allclose(first[:, 1], first[:, 0], atol=1e-3)  # augmented views differ from it


def test_train_fits_a_head_in_one_pass_and_says_how(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = [
        "train",
        "--data",
        str(small_data),
        "--name",
        "fast",
        "--version",
        "1",
        "--input-size",
        "64",
        "--views",
        "1",
    ]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert "chosen on validation" in printed and "bagel: 8 training, 1 validation, 1 test\n" in printed
    caution = "only 3 validation images: one image more or less right moves its accuracy by 33 points"
    assert f"{caution}, so its figures say little" in printed
    assert "on the 3 validation images: accuracy " in printed
    meta = json.loads((tmp_path / "a" / "metadata.json").read_text())
    training = meta["training"]
    assert training["views"] == 2 and training["strength"] in STRENGTHS and training["converged"] is True
    assert training["refitted_on"] == "train+val" and meta["none_rule"]["score"] in (
        "feature_distance",
        "reference_mass",
    )
    # The same seed, the same head, also from the image cache that the first run filled.
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    first = torch.load(tmp_path / "a" / "weights.pt", weights_only=True)
    second = torch.load(tmp_path / "b" / "weights.pt", weights_only=True)
    torch.testing.assert_close(first["head.weight"], second["head.weight"])


def test_a_model_train_returns_exports_as_the_cli_would(small_data: Path, tmp_path: Path) -> None:
    """The library path (train(), then export()) without a checkpoint in between: the ONNX
    file answers a batch, as one exported from the saved weights does."""
    from training.config import TrainConfig
    from training.dataset import check_batch
    from training.export import export
    from training.train import train

    model, meta, parts = train(TrainConfig(data=small_data, input_size=64, views=1), "library", "1")
    check = check_batch(parts["val"], meta)
    assert len(check) > 1  # a batch: what an export traced with its batch fixed at 1 refuses
    export(model, meta, tmp_path / "model.onnx", check)  # raises unless the file answers like the model


def test_a_class_with_two_photos_says_how_many_are_needed(small_data: Path, tmp_path: Path) -> None:
    for label in CLASSES:
        shutil.copytree(small_data / "train" / label, tmp_path / label)
    for extra in sorted((tmp_path / "vada").iterdir())[2:]:
        extra.unlink()
    with pytest.raises(DatasetError, match="3 images or more"):
        split_parts(tmp_path, 0.15, 0.15, 0)


def test_a_missing_data_folder_is_named_as_missing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "my-photo"),
                "--out",
                str(tmp_path / "o"),
                "--name",
                "x",
                "--version",
                "1",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert error == f"error: {tmp_path / 'my-photo'} does not exist\n"


def test_fine_tuning_trains_the_last_blocks_and_calibrates_on_their_features(
    small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert (
        main(
            [
                "train",
                "--data",
                str(small_data),
                "--name",
                "tuned",
                "--version",
                "1",
                "--input-size",
                "64",
                "--views",
                "1",
                "--fine-tune",
                "2",
                "--epochs",
                "2",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "chosen on validation" in printed and "epoch 2:" in printed
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["training"]["fine_tuned_blocks"] == 2 and meta["training"]["head"]["views"] == 2
    from training.checkpoint import load_checkpoint

    tuned, _ = load_checkpoint(tmp_path / "run")
    fresh = build_network("efficientnet_lite0", 3, pretrained=True)
    tuned_blocks, fresh_blocks = backbone_blocks(tuned), backbone_blocks(fresh)
    changed = [
        not all(torch.equal(a, b) for a, b in zip(t.state_dict().values(), f.state_dict().values()))
        for t, f in zip(tuned_blocks, fresh_blocks)
    ]
    assert changed[-2:] == [True, True] and not any(changed[:-2])
    assert tuned.reference is not None and fresh.reference is not None
    torch.testing.assert_close(tuned.reference.weight, fresh.reference.weight)  # the ImageNet head stays
    # The rule was fitted on the tuned backbone's features: exported, it answers as calibrated.
    assert (
        main(
            [
                "export",
                "--weights",
                str(tmp_path / "run"),
                "--check-images",
                str(tmp_path / "run" / "val.txt"),
                "--out",
                str(tmp_path / "model.onnx"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "model.onnx"),
                "--split",
                str(tmp_path / "run" / "val.txt"),
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["accepted"] == meta["none_rule"]["calibration"]["validation_accepted"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--fine-tune", "99"], "--fine-tune 99: this backbone has 17 blocks to fine-tune"),
        (["--fine-tune", "1", "--no-pretrained"], "--fine-tune N refines a pretrained backbone"),
    ],
)
def test_fine_tune_mistakes_are_one_line(
    argv: list[str], message: str, small_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) if "--no-pretrained" in argv else contextlib.nullcontext():
        code = main(
            [
                "train",
                "--data",
                str(small_data),
                "--name",
                "x",
                "--version",
                "1",
                "--input-size",
                "64",
                "--views",
                "0",
                "--out",
                str(tmp_path / "o"),
                *argv,
            ]
        )
        assert code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_evaluation_sees_an_image_exactly_as_the_service_decodes_it(tmp_path: Path) -> None:
    """Validation, calibration and evaluation figures are for the inputs the service computes."""
    from training.dataset import eval_batches

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg((1600, 1200), seed=3))
    for _ in range(2):  # decoded, then read from the cache
        inputs, _ = next(eval_batches([(photo, 0)], LITE0_META, 1))
        served = preprocess(decode(photo.read_bytes(), LITE0_META.resize_size, 10**9), LITE0_META)
        np.testing.assert_array_equal(inputs, served)
