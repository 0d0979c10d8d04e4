"""The page in real headless Chromium (Debian's), driven by Playwright, against chalice local."""

from __future__ import annotations

import base64
import functools
import shutil
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from devtools import ROOT

from tests import imagefiles as f

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="NO BROWSER: Debian's chromium is not installed (apt-get install chromium); the page is untested",
    ),
]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Without the background-networking flags Chromium keeps dialling Google's hosts,
        # which this machine's closed network refuses.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh page on the app at a phone's size, failing the test on any console error or uncaught exception."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.uploads = []  # (content type, bytes) of every upload the page sends

    def record(route) -> None:
        page.uploads.append((route.request.headers.get("content-type"), route.request.post_data_buffer))
        route.continue_()

    page.route("**/predict*", record)
    page.goto(f"{server}/")
    page.wait_for_function("document.getElementById('model').textContent.includes('test-colours')")
    page.expects_client_error = False  # Chromium logs each 4xx response as a console error
    yield page
    context.close()
    assert [e for e in errors if not (page.expects_client_error and "status of 4" in e)] == []


def wait_for_answer(page) -> str:
    page.wait_for_selector("#result:not([hidden])", timeout=30000)
    return page.text_content("#answer")


def test_choose_a_photo_and_read_the_answer(page, tmp_path: Path) -> None:
    photo = tmp_path / "red.png"
    photo.write_bytes(f.png(f.RED, size=(320, 240)))
    page.set_input_files("#file", str(photo))  # choosing classifies at once
    assert wait_for_answer(page).startswith("Looks like: red")
    assert page.locator("#bars .bar").count() == 3
    assert "test-colours 1" in page.text_content("#details")
    assert page.is_visible("#preview")
    assert page.is_hidden("#explain-toggle")  # the colour model is exported without activation maps
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-result.png"), full_page=True)


def _send_file(page, kind: str, data: bytes, name: str, mime: str) -> None:
    """Drops a file on the drop zone, or pastes it, as a person's browser would deliver it."""
    page.evaluate(
        """([kind, b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            const target = kind === "drop" ? document.getElementById("drop") : document;
            const event = kind === "drop"
                ? new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true })
                : new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
            target.dispatchEvent(event);
        }""",
        [kind, base64.b64encode(data).decode(), name, mime],
    )


def test_a_photo_of_none_of_the_labels_is_said_in_words(page, tmp_path: Path) -> None:
    photo = tmp_path / "grey.png"
    photo.write_bytes(f.png(f.GREY, size=(320, 240)))
    page.set_input_files("#file", str(photo))
    answer = wait_for_answer(page)
    assert answer.startswith("None of these: this does not look like blue, green or red (nearest: ")
    assert page.is_hidden("#bars")  # bars would rank labels the photo is none of, the top one high
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-refused.png"), full_page=True)


def test_drag_and_drop_a_photo(page) -> None:
    _send_file(page, "drop", f.jpeg(f.GREEN, size=(200, 150)), "green.jpg", "image/jpeg")
    assert wait_for_answer(page).startswith("Looks like: green")


def test_paste_a_photo(page) -> None:
    _send_file(page, "paste", f.png(f.BLUE), "pasted.png", "image/png")
    assert wait_for_answer(page).startswith("Looks like: blue")


def test_a_big_phone_photo_is_shrunk_before_upload(page, tmp_path: Path) -> None:
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(f.encode(f.noisy_photo((4000, 3000), f.RED), "JPEG", quality=92))
    assert photo.stat().st_size > 4_000_000
    page.set_input_files("#file", str(photo))
    assert wait_for_answer(page).startswith("Looks like: red")
    [(content_type, body)] = page.uploads
    assert content_type == "image/jpeg" and len(body) < 1_000_000  # what the server received
    import io

    from PIL import Image

    assert max(Image.open(io.BytesIO(body)).size) == 1280


def test_exif_orientation_survives_the_shrink(page, tmp_path: Path) -> None:
    """A big portrait photo stored landscape with EXIF orientation 6 uploads upright."""
    import io

    from PIL import Image

    stored = f.noisy_photo((3000, 2000), f.RED)
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = tmp_path / "rotated.jpg"
    photo.write_bytes(f.encode(stored, "JPEG", quality=95, exif=exif))
    page.set_input_files("#file", str(photo))
    wait_for_answer(page)
    [(_, body)] = page.uploads
    assert Image.open(io.BytesIO(body)).size == (853, 1280)  # portrait, as a person sees it


def test_a_heic_the_browser_cannot_draw_is_sent_as_it_is(page, tmp_path: Path) -> None:
    """Chromium cannot decode HEIC: the page sends the iPhone's original bytes, which the
    server decodes."""
    photo = tmp_path / "IMG_1234.HEIC"
    photo.write_bytes(f.heic(f.solid(f.RED, (320, 240)), bits=10))
    page.set_input_files("#file", str(photo))
    assert wait_for_answer(page).startswith("Looks like: red")
    [(_, body)] = page.uploads
    assert body == photo.read_bytes()


@functools.cache
def big_heic() -> bytes:
    """About 8 MB, over the 6 MiB body limit; lossless, so that it gets big quickly."""
    return f.heic(f.noisy_photo((2800, 2000), f.RED, spread=60), quality=-1)


def test_a_heic_too_large_to_send_as_a_body_goes_through_s3(page, s3: Any, bucket: str, tmp_path: Path) -> None:
    """Chromium cannot shrink a HEIC: one over the body limit is sent to S3 with POST
    /uploads' form (the server fixture's UPLOAD_BUCKET), then answered by /predict?upload=."""
    limit = page.evaluate("Number(document.body.dataset.maxBytes)")
    photo = tmp_path / "IMG_1235.HEIC"
    photo.write_bytes(big_heic())
    assert photo.stat().st_size > limit
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.set_input_files("#file", str(photo))
    assert wait_for_answer(page).startswith("Looks like: red")
    [(_, body)] = page.uploads
    assert not body  # the photo went to S3, not to /predict
    [predict] = [url for url in asked if "/predict" in url]
    upload_id = parse_qs(urlparse(predict).query)["upload"][0]
    held = s3.get_object(Bucket=bucket, Key=f"uploads/{upload_id}")["Body"].read()
    assert held == photo.read_bytes()  # typed application/octet-stream: Chromium gives .HEIC no type


def test_a_heic_too_large_for_a_stage_without_uploads_is_said_in_words(browser, bucket: str, tmp_path: Path) -> None:
    from devtools.local_chalice import chalice_local, copy_project
    from training.export import export
    from training.publish import publish

    from tests.colour_model import COLOUR_META, MeanColour, colour_batch

    model = tmp_path / "colours.onnx"
    export(MeanColour(), COLOUR_META, model, colour_batch())
    uri = publish(model, bucket, prefix=f"no-uploads-{tmp_path.name}")
    with chalice_local(copy_project(tmp_path / "project", {"MODEL_URI": uri, "UPLOAD_BUCKET": ""}), tmp_path) as base:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{base}/")
        page.wait_for_function("document.getElementById('model').textContent.includes('test-colours')")
        limit = page.evaluate("Number(document.body.dataset.maxBytes)")
        photo = tmp_path / "IMG_1236.HEIC"
        photo.write_bytes(f.heic(f.solid(f.RED)) + bytes(limit))  # a real HEIC, padded past the limit
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("#problem:not([hidden])")
        error = page.text_content("#error")
        assert "cannot shrink HEIC photos" in error and f"{len(photo.read_bytes()) / 1e6:.1f} MB" in error
        assert page.is_enabled("#submit")
        page.close()


def test_a_big_avif_is_shrunk_like_a_jpeg(page, tmp_path: Path) -> None:
    import io

    from PIL import Image

    photo = tmp_path / "android.avif"
    photo.write_bytes(f.avif(f.noisy_photo((2000, 1500), f.BLUE)))
    page.set_input_files("#file", str(photo))
    assert wait_for_answer(page).startswith("Looks like: blue")
    [(content_type, body)] = page.uploads
    assert content_type == "image/jpeg" and Image.open(io.BytesIO(body)).size == (1280, 960)


def test_an_invalid_file_shows_the_error_in_plain_words(page, tmp_path: Path) -> None:
    page.expects_client_error = True
    bogus = tmp_path / "notes.png"
    bogus.write_bytes(b"this is text, not a picture")
    page.set_input_files("#file", str(bogus))
    page.wait_for_selector("#problem:not([hidden])")
    assert "doesn't look like a picture" in page.text_content("#error")
    assert page.is_hidden("#result") and page.is_enabled("#submit")
    assert page.is_hidden("#preview")  # no broken-image icon above the error
    assert page.text_content("#status") == ""  # no spinner left behind


def test_tab_reaches_the_drop_zone_and_enter_opens_the_file_picker(page, tmp_path: Path) -> None:
    assert page.is_hidden("#file") and page.is_hidden("#submit")  # the drop zone stands for both
    # Playwright turns Chromium's file-chooser interception on without waiting for a reply once
    # someone listens; listening before the round trips below keeps Enter from outrunning it.
    page.on("filechooser", lambda chooser: None)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "drop"
    photo = tmp_path / "red.png"
    photo.write_bytes(f.png(f.RED))
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(str(photo))
    assert wait_for_answer(page).startswith("Looks like: red")


def test_without_javascript_the_form_answers_in_html(browser, server: str, tmp_path: Path) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/")
    photo = tmp_path / "blue.jpg"
    photo.write_bytes(f.jpeg(f.BLUE))
    assert page.is_visible("#file") and page.is_visible("#submit")
    page.set_input_files("#file", str(photo))
    page.click("#submit")
    page.wait_for_load_state()
    assert page.text_content("h1") == "It looks like: blue"
    assert page.locator("meter").count() == 3
    page.click("text=Classify another photo")
    assert page.url == f"{server}/"
    context.close()


def test_a_copy_hosted_elsewhere_calls_the_api_across_origins(
    browser, bucket: str, colour_model: Path, tmp_path: Path
) -> None:
    """The static page on one origin, the API (CORS_ALLOW_ORIGIN naming that origin) on another."""
    import subprocess
    import sys

    from devtools.local_chalice import chalice_local, copy_project
    from devtools.processes import free_port
    from training.publish import publish

    site_port = free_port()
    origin = f"http://127.0.0.1:{site_port}"
    uri = publish(colour_model, bucket, prefix=f"cors-{tmp_path.name}")
    project = copy_project(tmp_path / "project", {"MODEL_URI": uri, "CORS_ALLOW_ORIGIN": origin})
    (tmp_path / "site").mkdir()
    with chalice_local(project, tmp_path) as api:
        subprocess.run(
            [sys.executable, "-m", "devtools.static_page", "--api-base", api, str(tmp_path / "site" / "index.html")],
            cwd=ROOT,
            check=True,
        )
        site = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(site_port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(tmp_path / "site"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            page = browser.new_page()
            for _ in range(50):
                try:
                    page.goto(f"{origin}/index.html")
                    break
                except Exception:  # the static server is still starting
                    page.wait_for_timeout(100)
            page.wait_for_function("document.getElementById('model').textContent.includes('test-colours')")
            photo = tmp_path / "green.png"
            photo.write_bytes(f.png(f.GREEN))
            page.set_input_files("#file", str(photo))
            assert wait_for_answer(page).startswith("Looks like: green")
        finally:
            site.terminate()
            site.wait(10)


def _axe_violations(page) -> str:
    """axe-core's report of what breaks WCAG 2.1 AA on the page as it stands (empty when nothing)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
    return results.generate_report() if results.violations_count else ""


def _classified(browser: Any, server: str, viewport: dict[str, int], scheme: str, photo: Path) -> tuple[Any, Any]:
    """A fresh context at viewport in a colour scheme, its page on the app with photo classified."""
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{server}/")
    page.wait_for_function("document.getElementById('model').textContent.includes('test-colours')")
    page.set_input_files("#file", str(photo))
    wait_for_answer(page)
    return context, page


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_laptop_the_answer_is_beside_the_photo(browser, server: str, tmp_path: Path, scheme: str) -> None:
    photo = tmp_path / "red.jpg"
    photo.write_bytes(f.jpeg(f.RED, size=(800, 600)))
    context, page = _classified(browser, server, LAPTOP, scheme, photo)
    picture, answer = page.locator("#preview").bounding_box(), page.locator("#result").bounding_box()
    assert answer["x"] >= picture["x"] + picture["width"]  # beside it, not under it
    assert answer["y"] < picture["y"] + picture["height"]
    assert _axe_violations(page) == ""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-laptop-{scheme}.png"))
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_phone_the_answer_is_brought_into_view(browser, server: str, tmp_path: Path, scheme: str) -> None:
    photo = tmp_path / "portrait.jpg"
    photo.write_bytes(f.jpeg(f.GREEN, size=(600, 900)))  # a tall photo: the answer lands below the fold
    context, page = _classified(browser, server, PHONE, scheme, photo)
    page.wait_for_function(
        "(() => { const box = document.getElementById('result').getBoundingClientRect();"
        " return box.top >= 0 && box.bottom <= innerHeight; })()",
        timeout=5000,
    )
    assert page.evaluate("scrollY") > 0
    assert _axe_violations(page) == ""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-phone-{scheme}.png"))
    context.close()


def test_the_page_speaks_the_models_name_and_its_labels_as_people_write_them(
    browser, bucket: str, tmp_path: Path
) -> None:
    """A model whose labels have underscores and one display name: the heading, title, text,
    answer and bars use the model's name and words, with JavaScript and without."""
    from dataclasses import replace

    from devtools.local_chalice import chalice_local, copy_project
    from training.export import export
    from training.publish import publish

    from tests.colour_model import COLOUR_META, MeanColour, colour_batch

    meta = replace(
        COLOUR_META, name="paint-chips", labels=("sky_blue", "grass_green", "red"), display_names={"red": "Tomato red"}
    )
    model = tmp_path / "paint.onnx"
    export(MeanColour(), meta, model, colour_batch())
    uri = publish(model, bucket, prefix=f"named-{tmp_path.name}")
    photo = tmp_path / "red.png"
    photo.write_bytes(f.png(f.RED))
    with chalice_local(copy_project(tmp_path / "project", {"MODEL_URI": uri}), tmp_path) as base:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{base}/")
        page.wait_for_function("document.getElementById('title').textContent === 'paint-chips'")
        assert page.title().startswith("paint-chips")
        assert "sky blue, grass green or Tomato red" in page.text_content("#model")
        assert page.is_hidden("#examples")  # the demo's example photos show no sky or grass
        page.set_input_files("#file", str(photo))
        assert wait_for_answer(page).startswith("Looks like: Tomato red")
        bars = page.locator("#bars .bar span:first-child").all_text_contents()
        assert bars[0] == "Tomato red" and sorted(bars[1:]) == ["grass green", "sky blue"]
        page.close()
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{base}/")
        page.set_input_files("#file", str(photo))
        page.click("#submit")
        page.wait_for_load_state()
        assert page.text_content("h1") == "It looks like: Tomato red"
        context.close()


def test_a_model_that_is_not_there_is_said_in_words_not_as_warming_up(browser, tmp_path: Path) -> None:
    """model_not_found will not mend by waiting: the page says so, in the model line and for a photo."""
    from devtools.local_chalice import chalice_local, copy_project

    project = copy_project(tmp_path / "project", {"MODEL_URI": f"file://{tmp_path}/no-such-model.onnx"})
    photo = tmp_path / "red.png"
    photo.write_bytes(f.png(f.RED))
    with chalice_local(project, tmp_path) as base:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{base}/")
        page.wait_for_function("document.getElementById('model').textContent.includes('not where it was told')")
        page.set_input_files("#file", str(photo))
        page.wait_for_selector("#problem:not([hidden])")
        error = page.text_content("#error")
        assert "not where it was told to look" in error and "will not help" in error
        assert "warming up" not in error
        page.close()


@pytest.mark.parametrize("name", ["donut-bagel-vada", "fried-dough"])
def test_the_examples_are_offered_only_to_the_model_they_were_made_for(
    browser, bucket: str, tmp_path: Path, name: str
) -> None:
    """The examples are the demo's renders: a model of the same labels trained on real photos
    (any other name) may rightly refuse them, so it is not offered them."""
    from dataclasses import replace

    from devtools.local_chalice import chalice_local, copy_project
    from training.export import export
    from training.publish import publish

    from tests.colour_model import COLOUR_META, MeanColour, colour_batch

    assert (ROOT / "chalicelib" / "examples" / "model.txt").read_text().strip() == "donut-bagel-vada"
    meta = replace(COLOUR_META, name=name, labels=("bagel", "donut", "vada"), display_names={"vada": "Medu vada"})
    model = tmp_path / "dough.onnx"
    export(MeanColour(), meta, model, colour_batch())
    uri = publish(model, bucket, prefix=f"examples-{tmp_path.name}")
    with chalice_local(copy_project(tmp_path / "project", {"MODEL_URI": uri}), tmp_path) as base:
        page = browser.new_page(viewport=PHONE)
        sent: list[bytes] = []

        def record(route: Any) -> None:
            sent.append(route.request.post_data_buffer)
            route.continue_()

        page.route("**/predict*", record)
        page.goto(f"{base}/")
        page.wait_for_function(f"document.getElementById('model').textContent.includes('{name}')")
        if name != "donut-bagel-vada":
            assert page.is_hidden("#examples")
            page.close()
            return
        page.wait_for_selector("#examples:not([hidden])")
        assert page.locator(".example:visible").all_text_contents() == ["bagel", "donut", "Medu vada"]
        page.click(".example[data-label=donut]")
        wait_for_answer(page)
        assert sent == [(ROOT / "chalicelib" / "examples" / "donut.jpg").read_bytes()]
        assert _axe_violations(page) == ""
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_where_the_model_looked_is_drawn_over_the_photo_on_request(browser, tmp_path: Path, scheme: str) -> None:
    """The demo model (its file has activation maps): the toggle shows the heatmap over the
    square of the photo the model saw, and hides it again."""
    import numpy as np
    from chalicelib.runtimes import load_runtime
    from devtools.local_chalice import chalice_local, copy_project

    served = ROOT / "demo" / "model" / "model.onnx"
    with chalice_local(copy_project(tmp_path / "project", {"MODEL_URI": served.as_uri()}), tmp_path) as base:
        context = browser.new_context(viewport=LAPTOP, color_scheme=scheme)
        page = context.new_page()
        page.goto(f"{base}/")
        page.wait_for_selector("#examples:not([hidden])")
        page.click(".example[data-label=donut]")
        assert wait_for_answer(page).startswith("Looks like: donut")
        assert page.is_visible("#explain-toggle") and page.is_hidden("#heatmap")
        page.check("#explain")
        assert page.is_visible("#heatmap") and "spoke most for donut" in page.text_content("#looked")
        photo, heat = page.locator("#preview").bounding_box(), page.locator("#heatmap").bounding_box()
        # the example is square: the model saw its middle input_size / resize_size of it
        runtime = load_runtime(served)
        meta = runtime.metadata
        maps = runtime.run(np.zeros((1, 3, meta.input_size, meta.input_size), np.float32)).maps
        seen = meta.input_size / meta.resize_size
        assert heat["width"] == pytest.approx(photo["width"] * seen, abs=1)
        assert heat["x"] == pytest.approx(photo["x"] + photo["width"] * (1 - seen) / 2, abs=1)
        assert maps is not None and page.evaluate(
            "[document.getElementById('heatmap').width, document.getElementById('heatmap').height]"
        ) == list(maps.shape[2:])
        assert _axe_violations(page) == ""
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"page-heatmap-{scheme}.png"))
        # At phone size, the toggle tapped at the screen's bottom edge: the caption comes
        # into view, right under the photo.
        page.uncheck("#explain")
        page.set_viewport_size(PHONE)
        page.evaluate("document.getElementById('explain-toggle').scrollIntoView({block: 'end'})")
        page.check("#explain")
        photo, caption = page.locator("#preview").bounding_box(), page.locator("#looked").bounding_box()
        assert photo["y"] + photo["height"] < caption["y"] < photo["y"] + photo["height"] + 80
        assert 0 <= caption["y"] and caption["y"] + caption["height"] <= PHONE["height"]
        page.screenshot(path=str(ARTIFACTS / f"page-heatmap-phone-{scheme}.png"))
        page.uncheck("#explain")
        assert page.is_hidden("#heatmap") and page.is_hidden("#looked")
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_an_unsure_answer_names_both_labels_and_is_set_apart(browser, bucket: str, tmp_path: Path, scheme: str) -> None:
    """A model without a rule takes an orange-yellow for red or green, nearly evenly: the page
    says it is not sure, names both, and sets it in another style than a sure answer."""
    from dataclasses import replace

    from devtools.local_chalice import chalice_local, copy_project
    from training.export import export
    from training.publish import publish

    from tests.colour_model import COLOUR_META, MeanColour, colour_batch

    model = tmp_path / "colours.onnx"
    export(MeanColour(), replace(COLOUR_META, none_rule=None), model, colour_batch())
    uri = publish(model, bucket, prefix=f"unsure-{tmp_path.name}")
    photo = tmp_path / "yellow.png"
    photo.write_bytes(f.png((255, 242, 0), size=(320, 240)))  # red's and green's channels nearly level
    with chalice_local(copy_project(tmp_path / "project", {"MODEL_URI": uri}), tmp_path) as base:
        context = browser.new_context(viewport=PHONE, color_scheme=scheme)
        page = context.new_page()
        page.goto(f"{base}/")
        page.wait_for_function("document.getElementById('model').textContent.includes('test-colours')")
        page.set_input_files("#file", str(photo))
        assert wait_for_answer(page) == "Not sure: red or green?"
        style = page.eval_on_selector("#answer", "e => [getComputedStyle(e).fontStyle, getComputedStyle(e).fontWeight]")
        assert style == ["italic", "400"]  # a sure answer is upright and bold
        assert page.locator("#bars .bar").count() == 3
        assert _axe_violations(page) == ""
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"page-unsure-{scheme}.png"), full_page=True)
        context.close()
