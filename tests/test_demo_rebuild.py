"""`python -m devtools.demo_model rebuild` before it trains: whether the non-food photos are
those the committed demo was calibrated on, and that a rendering cut short is not trained
on. The rebuild itself takes over an hour of Blender, so the rendering here is a function
writing files."""

from __future__ import annotations

from pathlib import Path

import pytest
from devtools.demo_model import other_none_images_caution, rendered_once


def _render_three(out: Path, stop_after: int | None = None) -> None:
    """Writes three files as a renderer does, one by one; stop_after: cut short as Ctrl+C would."""
    out.mkdir(parents=True)
    for index in range(3):
        if index == stop_after:
            raise KeyboardInterrupt
        (out / f"{index}.jpg").write_bytes(b"render")


def test_a_rendering_cut_short_is_done_again_not_trained_on(tmp_path: Path) -> None:
    folder = tmp_path / "demo-cycles"
    with pytest.raises(KeyboardInterrupt):
        rendered_once(folder, "3 images", lambda out: _render_three(out, stop_after=2))
    assert not folder.exists()
    rendered_once(folder, "3 images", _render_three)  # a partial folder left behind is cleared first
    assert sorted(p.name for p in folder.iterdir()) == ["0.jpg", "1.jpg", "2.jpg"]
    assert not (tmp_path / "demo-cycles.partial").exists()


def test_a_finished_rendering_is_not_done_again(tmp_path: Path) -> None:
    folder = tmp_path / "demo-cycles"
    rendered_once(folder, "3 images", _render_three)
    rendered_once(folder, "3 images", lambda out: pytest.fail("rendered again"))


def test_a_machine_without_the_wallpapers_the_demo_was_calibrated_on_is_told_its_model_will_differ() -> None:
    recorded = {"GNOME wallpapers": 16, "Plasma wallpapers": 30, "scikit-learn samples": 2}
    caution = other_none_images_caution(
        {"GNOME wallpapers": 0, "Plasma wallpapers": 30, "scikit-learn samples": 2}, recorded
    )
    assert caution is not None and "GNOME wallpapers: 0 here, 16 then" in caution and "Plasma" not in caution


def test_the_same_non_food_photos_are_told_nothing() -> None:
    recorded = {"GNOME wallpapers": 16, "data/demo-other-foods": 300}  # the rebuild renders the latter itself
    assert other_none_images_caution({"GNOME wallpapers": 16}, recorded) is None
