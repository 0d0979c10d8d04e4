"""python -m devtools.renders realism: what the renders look like to ImageNet's head, per class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from devtools.renders.__main__ import main
from devtools.renders.pillow import render
from PIL import Image


def test_renders_of_food_weigh_more_as_food_than_flat_colours(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data"
    (data / "bagel").mkdir(parents=True)
    (data / "flat").mkdir()
    rng = np.random.default_rng(0)
    for seed in range(6):
        render("bagel", seed, 128).save(data / "bagel" / f"{seed}.jpg")
        Image.new("RGB", (128, 128), tuple(int(c) for c in rng.integers(0, 255, 3))).save(data / "flat" / f"{seed}.png")
    assert main(["realism", str(data), "--out", str(tmp_path / "realism.json")]) == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "realism.json").read_text())
    bagel, flat = report["classes"]["bagel"], report["classes"]["flat"]
    assert bagel["images"] == flat["images"] == 6 and report["images"] == 12
    assert bagel["food_mass"] > 0.1 > flat["food_mass"]
    assert bagel["imagenet_top"][0]["name"] in printed and len(bagel["imagenet_top"]) == 5
    assert all(0 <= row["class"] < 1000 for row in bagel["imagenet_top"])
    assert -1 <= bagel["cosine_to_others"] <= bagel["cosine_within"] <= 1
