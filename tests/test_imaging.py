from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from chalicelib.errors import BadRequest, PayloadTooLarge
from chalicelib.imaging import decode, preprocess
from PIL import Image

from tests import imagefiles as f
from tests.colour_model import COLOUR_META

LIMIT = 50_000_000


def centre(image: Image.Image) -> tuple[int, int, int]:
    pixel = image.getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple), f"not an RGB pixel: {pixel}"
    red, green, blue = pixel
    return red, green, blue


def close(pixel, expected, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(f.jpeg(), id="jpeg"),
        pytest.param(f.png(), id="png"),
        pytest.param(f.encode(f.solid(f.RED), "WEBP", quality=95), id="webp"),
        pytest.param(f.encode(f.solid(f.RED), "BMP"), id="bmp"),
        pytest.param(f.encode(f.solid(f.RED), "TIFF"), id="tiff"),
        pytest.param(f.encode(f.solid(f.RED), "TIFF", compression="tiff_lzw"), id="tiff-lzw"),
        pytest.param(f.cmyk_jpeg(), id="cmyk-jpeg"),
        pytest.param(f.encode(f.solid(f.RED, mode="P"), "PNG"), id="palette"),
        pytest.param(f.encode(f.solid(f.RED, mode="RGBA"), "PNG"), id="rgba-opaque"),
        pytest.param(f.planar_tiff(f.RED, dtype="uint8"), id="tiff-planar-8-bit"),
        pytest.param(f.planar_tiff(f.RED, dtype="uint16"), id="tiff-planar-16-bit"),
        pytest.param(f.planar_tiff(f.RED, dtype="float32"), id="tiff-planar-float"),
        pytest.param(f.avif(f.solid(f.RED)), id="avif"),
        pytest.param(f.avif(f.solid(f.RED), bits=10), id="avif-10-bit"),
        pytest.param(f.heic(f.solid(f.RED)), id="heic"),
        pytest.param(f.heic(f.solid(f.RED), bits=10), id="heic-10-bit"),
        pytest.param(f.heic(f.solid(f.RED, mode="RGBA"), bits=10), id="heic-10-bit-rgba-opaque"),
    ],
)
def test_every_format_and_mode_decodes_to_the_same_rgb(data: bytes) -> None:
    image = decode(data, 32, LIMIT)
    assert image.mode == "RGB"
    assert close(centre(image), f.RED), centre(image)


@pytest.mark.parametrize("mode", ["L", "LA", "1"])
def test_grey_modes_become_grey_rgb(mode: str) -> None:
    image = decode(f.encode(Image.new("L", (16, 16), 255).convert(mode), "PNG"), 8, LIMIT)
    assert image.mode == "RGB" and centre(image) == (255, 255, 255)


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    mid = decode(f.sixteen_bit_grey_png(level=32896), 8, LIMIT)  # 32896 / 257 = 128
    assert centre(mid) == (128, 128, 128)


@pytest.mark.parametrize("encode", [lambda image: f.encode(image, "PNG"), f.avif, f.heic], ids=["png", "avif", "heic"])
def test_transparency_is_composited_on_white(encode) -> None:
    hidden_black = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    assert close(centre(decode(encode(hidden_black), 8, LIMIT)), (255, 255, 255), 2)


def test_palette_transparency_is_composited_on_white() -> None:
    image = decode(f.palette_with_transparency(), 8, LIMIT)
    assert image.getpixel((16, 4)) == f.RED  # opaque index
    assert image.getpixel((16, 28)) == (255, 255, 255)  # transparent index


def test_gif_uses_its_first_frame() -> None:
    assert centre(decode(f.animated_gif(f.RED, f.BLUE), 8, LIMIT)) == f.RED


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(f.exif_rotated_jpeg(colour_top=f.RED, colour_bottom=f.BLUE), id="jpeg"),
        pytest.param(f.avif(f.rotated_for_exif_6(f.RED, f.BLUE), orientation=6), id="avif"),
        pytest.param(f.heic(f.rotated_for_exif_6(f.RED, f.BLUE), orientation=6), id="heic"),
    ],
)
def test_exif_orientation_is_applied(data: bytes) -> None:
    image = decode(data, 40, LIMIT)
    assert image.size == (40, 60)
    assert close(image.getpixel((20, 5)), f.RED, 30)
    assert close(image.getpixel((20, 55)), f.BLUE, 30)


def test_large_jpeg_is_decoded_at_reduced_scale() -> None:
    photo = f.encode(f.noisy_photo((4000, 3000)), "JPEG", quality=85)
    image = decode(photo, 256, LIMIT)
    # 1/8 DCT scaling: 500x375 still covers a 256 px shorter side; 4000x3000 was never decoded.
    assert image.size == (500, 375)


def test_draft_never_goes_below_the_requested_side() -> None:
    image = decode(f.encode(f.noisy_photo((1000, 600)), "JPEG"), 256, LIMIT)
    assert min(image.size) >= 256


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(f.truncated_jpeg(), id="jpeg"),
        pytest.param(f.avif(f.noisy_photo((64, 48)))[:-200], id="avif"),
        pytest.param(f.heic(f.noisy_photo((64, 48)))[:-200], id="heic"),
    ],
)
def test_truncated_images_are_bad_requests(data: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        decode(data, 32, LIMIT)
    assert err.value.code == "corrupt_image"


def test_a_heic_with_several_images_is_read_at_its_primary_one() -> None:
    assert close(centre(decode(f.heic_burst(first=f.BLUE, primary=f.RED), 8, LIMIT)), f.RED)


@pytest.mark.parametrize(
    "data", [f.avif(f.solid(f.RED, (400, 300))), f.heic(f.solid(f.RED, (400, 300)))], ids=["avif", "heic"]
)
def test_phone_formats_are_held_to_the_pixel_limit(data: bytes) -> None:
    with pytest.raises(PayloadTooLarge):
        decode(data, 32, 400 * 300 - 1)
    assert decode(data, 32, 400 * 300).size == (400, 300)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = f.png_bomb(30000, 30000)
    assert len(bomb) < 10_000
    with pytest.raises(PayloadTooLarge) as err:
        decode(bomb, 32, LIMIT)
    assert err.value.code == "too_many_pixels"
    # In the project's words and units, not Pillow's "could be decompression bomb DOS attack".
    assert err.value.message == f"the image (900 megapixels) is over the limit of {LIMIT / 1e6:.3g} megapixels"


def test_pixel_limit_is_configurable() -> None:
    with pytest.raises(PayloadTooLarge):
        decode(f.png(size=(100, 100)), 32, max_pixels=9_999)


@pytest.mark.parametrize("data", [b"hello, I am text", b"\xff\xd8\xff" + b"\x00" * 50, b"GIF89a"])
def test_non_images_are_bad_requests(data: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        decode(data, 32, LIMIT)
    assert err.value.code in ("not_an_image", "corrupt_image")


def test_empty_body_is_a_bad_request() -> None:
    with pytest.raises(BadRequest) as err:
        decode(b"", 32, LIMIT)
    assert err.value.code == "empty_body"


def test_preprocess_normalises_as_the_metadata_says() -> None:
    batch = preprocess(Image.new("RGB", (64, 48), (255, 0, 128)), COLOUR_META)
    assert batch.shape == (1, 3, 32, 32) and batch.dtype == np.float32
    expected = (np.array([255, 0, 128]) / 255 - np.array(COLOUR_META.mean)) / np.array(COLOUR_META.std)
    np.testing.assert_allclose(batch[0, :, 16, 16], expected, atol=1e-5)


def test_preprocess_takes_the_centre_crop() -> None:
    # A wide picture: red centre, blue sides beyond the centre square.
    image = Image.new("RGB", (300, 100), f.BLUE)
    image.paste(f.RED, (100, 0, 200, 100))
    batch = preprocess(image, COLOUR_META)
    red_channel = batch[0, 0]
    assert red_channel.min() > 1.5  # every pixel of the crop is red


@pytest.mark.parametrize("size", [(3000, 1), (1, 3000), (1, 1)])
def test_extreme_aspect_ratios_preprocess_to_the_input_size(size: tuple[int, int]) -> None:
    assert preprocess(Image.new("RGB", size, f.RED), COLOUR_META).shape == (1, 3, 32, 32)


def skimage_planar_tiff() -> bytes:
    """scikit-image's multipage_rgb.tif: planar RGB of float64 samples, which Pillow cannot open."""
    from training.negatives import package_dir

    skimage = package_dir("skimage")
    assert skimage is not None, "scikit-image is in requirements-dev.txt"
    return (skimage / "data" / "multipage_rgb.tif").read_bytes()


def test_a_valid_tiff_pillow_cannot_open_is_read() -> None:
    image = decode(skimage_planar_tiff(), 32, LIMIT)
    assert image.mode == "RGB" and image.size == (10, 10)


def test_a_planar_tiff_over_the_pixel_limit_is_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge) as err:
        decode(skimage_planar_tiff(), 32, 99)
    assert err.value.code == "too_many_pixels"


def test_a_truncated_tiff_of_a_variant_pillow_lacks_is_corrupt_and_named() -> None:
    data = skimage_planar_tiff()
    with pytest.raises(BadRequest) as err:
        decode(data[:1200], 32, LIMIT)  # the first image's samples end past 2,400 bytes
    assert err.value.code == "corrupt_image" and "separate planes" in err.value.message, err.value.message


def test_a_tiff_compression_the_service_lacks_is_named_not_called_not_an_image(tmp_path: Path) -> None:
    import tifffile

    path = tmp_path / "zstd.tif"
    path.write_bytes(skimage_planar_tiff())
    with tifffile.TiffFile(path, mode="r+") as tif:
        tif.pages.first.tags["Compression"].overwrite(50000)  # Zstandard: tifffile needs imagecodecs for it
    with pytest.raises(BadRequest) as err:
        decode(path.read_bytes(), 32, LIMIT)
    assert err.value.code == "unsupported_image" and "zstd compression" in err.value.message, err.value.message


def test_the_heif_plugin_is_imported_only_when_a_heic_arrives() -> None:
    """A cold start that never sees a HEIC never pays for pi-heif's import."""
    import subprocess
    import sys

    from devtools import ROOT

    script = """
import sys
from chalicelib.imaging import decode
from tests import imagefiles as f
decode(f.jpeg(), 8, 10**6); decode(f.avif(f.solid(f.RED)), 8, 10**6)
print("pi_heif" in sys.modules)
decode(f.heic(f.solid(f.RED)), 8, 10**6)
print("pi_heif" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
