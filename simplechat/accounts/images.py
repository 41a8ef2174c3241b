"""Avatars: any JPEG, PNG, WebP or GIF in, a clean 128x128 JPEG out (Pillow).

CPU-bound: the service runs `make_avatar` in a thread. Pixel bombs (a small file that decodes
to gigapixels) are refused from the header, before anything is decoded, by our own limit:
Pillow's process-wide `Image.MAX_IMAGE_PIXELS` is left as it is (other capabilities read
images too), and its DecompressionBombError, or its warning where warnings are errors, reads
as the same refusal.
"""

import hashlib
import io

from PIL import Image, ImageOps, UnidentifiedImageError

from simplechat.accounts.errors import InvalidImage

AVATAR_SIZE = 128
AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_MAX_PIXELS = 40_000_000  # far beyond any photo a phone takes, far below a bomb
AVATAR_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
AVATAR_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
JPEG_QUALITY = 85
WHITE = (255, 255, 255)


def make_avatar(data: bytes) -> bytes:
    """The avatar for an uploaded image, or InvalidImage saying what is wrong with it."""
    try:
        with Image.open(io.BytesIO(data), formats=AVATAR_FORMATS) as image:
            _refuse_bombs(image.width, image.height)
            image.seek(0)  # an animated GIF or WebP: its first frame
            image.load()
            return _square_jpeg(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb() from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage(
            "That is not an image simplechat can read: send a JPEG, PNG, WebP or GIF."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage("The image is truncated or corrupt.") from exc


def etag_of(avatar: bytes) -> str:
    return '"' + hashlib.sha256(avatar).hexdigest()[:32] + '"'


def _refuse_bombs(width: int, height: int) -> None:
    if width * height > AVATAR_MAX_PIXELS:
        raise _bomb()


def _bomb() -> InvalidImage:
    return InvalidImage(
        f"The image has too many pixels (at most {AVATAR_MAX_PIXELS:,}): send a smaller one."
    )


def _square_jpeg(image: Image.Image) -> bytes:
    upright = ImageOps.exif_transpose(image)  # a phone photo's EXIF orientation applied
    square = ImageOps.fit(_on_white(upright), (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    clean = Image.new("RGB", square.size, WHITE)  # a fresh image: no EXIF, ICC or comments
    clean.paste(square)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _on_white(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (JPEG has no alpha)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
