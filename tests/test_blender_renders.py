"""The demo's photographic renders: Blender's Cycles through bpy, in .venv-render, made on
first use as a user's `synth --renderer blender` makes it; and the other foods the demo must refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from devtools.renders.__main__ import main
from devtools.renders.dishes import OTHER_FOODS
from devtools.renders.pillow import CLASSES
from PIL import Image

pytestmark = pytest.mark.slow


def _render(seed: int, out: Path) -> None:
    """One image per class and split, tiny and with few samples: enough to see a scene."""
    options = f"--per-class 1 --size 48 --samples 2 --renderer blender --seed {seed}"
    assert main(["synth", "--out", str(out), *options.split()]) == 0


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cycles")
    _render(seed=7, out=out)
    return out


def test_every_class_is_rendered_into_each_split(rendered: Path) -> None:
    for split in ("train", "val", "test"):
        for label in CLASSES:
            [image] = (rendered / split / label).iterdir()
            with Image.open(image) as picture:
                assert picture.format == "JPEG" and picture.size == (48, 48)
                pixels = np.asarray(picture.convert("RGB"), dtype=np.float32)
            assert pixels.std() > 5  # a scene, not a blank frame


def test_the_same_seed_renders_the_same_scene(rendered: Path, tmp_path: Path) -> None:
    _render(seed=7, out=tmp_path)
    for label in CLASSES:
        first = np.asarray(Image.open(rendered / "train" / label / "00000.jpg"), dtype=np.float32)
        again = np.asarray(Image.open(tmp_path / "train" / label / "00000.jpg"), dtype=np.float32)
        assert np.abs(first - again).mean() < 2  # Cycles is not deterministic (docs/training.md, "The demo")


def test_a_render_carries_no_time_stamps(rendered: Path) -> None:
    """Blender writes the date and the render time into a file by default: two renders of
    the same pixels would then differ."""
    data = (rendered / "train" / CLASSES[0] / "00000.jpg").read_bytes()
    assert b"Blender:" not in data  # its metadata fields: Blender:Date, Blender:RenderTime…


def test_other_foods_are_rendered_one_folder_each(tmp_path: Path) -> None:
    assert main(["other-foods", "--out", str(tmp_path), "--per-kind", "1", "--size", "48", "--samples", "2"]) == 0
    for food in OTHER_FOODS:
        [image] = (tmp_path / food).iterdir()
        with Image.open(image) as picture:
            assert picture.size == (48, 48)
            assert np.asarray(picture.convert("RGB"), dtype=np.float32).std() > 5


def test_other_foods_needs_at_least_one_per_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["other-foods", "--out", str(tmp_path), "--per-kind", "0"])
    assert stopped.value.code == 2 and "--per-kind must be 1 or more" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
