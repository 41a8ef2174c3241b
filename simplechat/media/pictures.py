"""Checking an uploaded picture before any engine sees it.

Pillow reads the header first: a picture over `max_pixels` (a pixel bomb: a few KB declaring
a 50,000 x 50,000 image, or a huge scan) is refused before a single pixel is decoded. Then the
whole picture is decoded once, so a corrupt or truncated file is refused here (and costs no
quota) rather than failing inside an engine.
"""

import io

from PIL import Image, UnidentifiedImageError

from simplechat.llm.ocr.base import Picture
from simplechat.media.errors import CorruptMedia, TooManyPixels
from simplechat.media.rules import PICTURE_MIMES


def open_picture(data: bytes, fmt: str, *, max_pixels: int) -> Picture:
    """`data`, a `fmt` file (JPEG, PNG, WEBP), checked whole; its size in pixels."""
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as image:
            width, height = image.size
            _check_pixels(width, height, max_pixels)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own bomb check runs inside `open`, above its threshold (89.5 MP, which
        # SIMPLECHAT_MEDIA_MAX_PIXELS stays under): an error past twice that, a warning before
        # (raised where warnings are errors, as under pytest).
        raise TooManyPixels(
            f"The picture has too many pixels; at most {max_pixels / 1e6:g} megapixels are read."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        problem = "truncated" if "truncated" in str(exc).lower() else "damaged or truncated"
        raise CorruptMedia(f"The {fmt} picture cannot be read: it is {problem}.") from None
    return Picture(data=data, mime=PICTURE_MIMES[fmt], width=width, height=height)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise TooManyPixels(
            f"The picture is {width} x {height} pixels ({width * height / 1e6:.1f} megapixels); "
            f"at most {max_pixels / 1e6:g} megapixels are read."
        )
    if width == 0 or height == 0:
        raise CorruptMedia("The picture has no pixels.")
