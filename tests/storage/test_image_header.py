"""The image header reader against Pillow, on every format the CDN serves and the variants each allows."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from airflow_provider_apiframe.emulator.images import render_image
from airflow_provider_apiframe.storage.image_header import ImageHeader, read_header


def encoded(size: tuple[int, int], mode: str, pil_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "teal").save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def exif_blob(length: int) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "x" * length  # ImageDescription: a large APP1 segment before the frame
    return exif.tobytes()


CASES = {
    "png rgb": (encoded((1408, 768), "RGB", "PNG"), "png"),
    "png rgba": (encoded((31, 7), "RGBA", "PNG"), "png"),
    "png palette": (encoded((300, 200), "P", "PNG"), "png"),
    "jpeg baseline": (encoded((1024, 1024), "RGB", "JPEG"), "jpg"),
    "jpeg progressive": (encoded((896, 1280), "RGB", "JPEG", progressive=True), "jpg"),
    "jpeg grey": (encoded((77, 55), "L", "JPEG"), "jpg"),
    "jpeg exif 60 KB": (encoded((640, 480), "RGB", "JPEG", exif=exif_blob(60_000)), "jpg"),
    "webp lossy": (encoded((512, 384), "RGB", "WEBP"), "webp"),
    "webp lossless": (encoded((513, 385), "RGB", "WEBP", lossless=True), "webp"),
    "webp lossy alpha (VP8X)": (encoded((1000, 3), "RGBA", "WEBP"), "webp"),
}


@pytest.mark.parametrize("name", CASES)
def test_the_size_is_read_as_pillow_reads_it(name):
    data, extension = CASES[name]
    with Image.open(io.BytesIO(data)) as image:
        expected = ImageHeader(extension, *image.size)
    assert read_header(data) == expected
    # The reader sees bytes as they arrive: never a wrong answer from a prefix, only "not yet".
    for cut in (2, 10, 20, 25):
        assert read_header(data[:cut]) in (None, expected)


@pytest.mark.parametrize("output_format", ["png", "jpg", "webp"])
def test_the_emulators_images_are_read(output_format):
    data = render_image("0f8fad5b-d9cb-469f-a165-70867728950e", 1, "koi", 1280, 896, output_format)
    assert read_header(data) == ImageHeader(output_format, 1280, 896)


@pytest.mark.parametrize(
    "data",
    [b"<html><body>502 Bad Gateway</body></html>", b"GIF89a\x01\x00\x01\x00", b"", b"\xff\xd8\x00\x00\x00"],
)
def test_what_is_not_a_png_jpeg_or_webp_image_has_no_header(data):
    assert read_header(data) is None
