"""Checking pictures before any engine sees them: bombs, corruption, truncation."""

import io
import struct
import zlib

import pytest
from PIL import Image

from simplechat.media.errors import CorruptMedia, TooManyPixels
from simplechat.media.pictures import open_picture
from tests.media.conftest import FIXTURES

RECEIPT = (FIXTURES / "receipt.jpg").read_bytes()
ENGLISH = (FIXTURES / "english.png").read_bytes()
MAX = 40_000_000


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` pixels (a pixel bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_a_good_picture_is_measured() -> None:
    picture = open_picture(RECEIPT, "JPEG", max_pixels=MAX)
    assert (picture.mime, picture.width, picture.height) == (
        "image/jpeg",
        *Image.open(io.BytesIO(RECEIPT)).size,
    )
    webp = io.BytesIO()
    Image.open(io.BytesIO(ENGLISH)).save(webp, "WEBP")
    assert open_picture(webp.getvalue(), "WEBP", max_pixels=MAX).mime == "image/webp"


@pytest.mark.parametrize(
    ("width", "height"), [(50_000, 50_000), (10_000, 5_000), (20_000, 20_000), (9_000, 10_000)]
)
def test_pixel_bombs_are_refused_before_decoding(width: int, height: int) -> None:
    with pytest.raises(TooManyPixels, match="megapixels"):
        open_picture(png_header_claiming(width, height), "PNG", max_pixels=MAX)


@pytest.mark.parametrize(
    ("data", "fmt", "says"),
    [
        (RECEIPT[: len(RECEIPT) // 2], "JPEG", "truncated"),
        (ENGLISH[: len(ENGLISH) // 2], "PNG", "truncated"),
        (RECEIPT[:200] + b"\x00" * 3000, "JPEG", "cannot be read"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "PNG", "cannot be read"),
    ],
)
def test_corrupt_and_truncated_pictures_are_refused(data: bytes, fmt: str, says: str) -> None:
    with pytest.raises(CorruptMedia, match=says):
        open_picture(data, fmt, max_pixels=MAX)
