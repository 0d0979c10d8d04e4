"""The page in real headless Chromium (Debian's), driven by Playwright, against chalice local."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest

from tests import imagefiles as f
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="NO BROWSER: Debian's chromium is not installed (apt-get install chromium); the page is untested",
)
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Without the background-networking flags Chromium keeps dialling Google's hosts,
        # which this machine's closed network refuses.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


def test_choose_a_photo_and_read_the_answer(browser, server: str, tmp_path: Path) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/")
    page.wait_for_function("document.getElementById('model').textContent.includes('test-colours')")
    photo = tmp_path / "red.png"
    photo.write_bytes(f.png(f.RED, size=(320, 240)))
    page.set_input_files("#file", str(photo))
    page.click("button[type=submit]")
    page.wait_for_selector("#result:not([hidden])")
    assert page.text_content("#answer").startswith("red")
    assert page.locator("#bars .bar").count() == 3
    assert "test-colours" in page.text_content("#details")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-result.png"), full_page=True)
    assert errors == []


def test_an_invalid_file_shows_the_error(browser, server: str, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(f"{server}/")
    bogus = tmp_path / "notes.png"
    bogus.write_bytes(b"this is text, not a picture")
    page.set_input_files("#file", str(bogus))
    page.click("button[type=submit]")
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert "not an image" in page.text_content("#error")
    assert page.is_hidden("#result")
