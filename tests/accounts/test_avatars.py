"""Avatars through the ASGI app, with real images made by Pillow in the test."""

import io
import random
import struct
import zlib

import httpx
import pytest
from PIL import Image

from tests.accounts.test_router import assert_error

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)
ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def photo_jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "SimpleCam"  # Make
    exif[0x0131] = "editor 1.0"  # Software
    return encode(image, "JPEG", exif=exif.tobytes(), quality=90)


def png_with_alpha() -> bytes:
    """200x100: the left half fully transparent, the right half opaque red."""
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((*RED, 255), (100, 0, 200, 100))
    return encode(image, "PNG")


def animated_gif() -> bytes:
    frames = [Image.new("P", (64, 64), 1), Image.new("P", (64, 64), 2)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def exif_rotated_jpeg() -> bytes:
    """Stored 300x100 (left half red, right half green) with EXIF orientation 6: shown upright
    it is 100x300, red on top and green below."""
    image = Image.new("RGB", (300, 100), GREEN)
    image.paste(RED, (0, 0, 150, 100))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


def pixel_bomb() -> bytes:
    """A tiny PNG whose header claims 60000x60000 pixels."""
    small = encode(Image.new("1", (8, 8)), "PNG")
    ihdr_at = small.index(b"IHDR")
    header = struct.pack(">II", 60000, 60000) + small[ihdr_at + 12 : ihdr_at + 17]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF)
    return small[: ihdr_at + 4] + header + crc + small[ihdr_at + 21 :]


async def put(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, content_type: str
) -> httpx.Response:
    return await client.put(
        "/user/me/avatar", content=data, headers={**headers, "Content-Type": content_type}
    )


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def near(pixel: tuple[int, ...], color: tuple[int, int, int], slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel[:3], color, strict=True))


async def stored_avatar(client: httpx.AsyncClient, headers: dict[str, str]) -> Image.Image:
    response = await client.get("/user/me/avatar", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    return decoded(response.content)


class TestUpload:
    @pytest.mark.parametrize(
        ("data", "content_type"),
        [
            (photo_jpeg(), "image/jpeg"),
            (png_with_alpha(), "image/png"),
            (animated_gif(), "image/gif"),
            (encode(Image.new("RGB", (300, 200), GREEN), "WEBP"), "image/webp"),
        ],
        ids=["jpeg", "png-alpha", "gif", "webp"],
    )
    async def test_every_format_becomes_a_128_jpeg(
        self,
        client: httpx.AsyncClient,
        auth_headers: dict[str, str],
        data: bytes,
        content_type: str,
    ) -> None:
        response = await put(client, auth_headers, data, content_type)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["url"] == "/users/eric/avatar"
        assert (body["width"], body["height"], body["content_type"]) == (128, 128, "image/jpeg")
        image = await stored_avatar(client, auth_headers)
        assert image.format == "JPEG"
        assert image.size == (128, 128)
        assert image.mode == "RGB"

    async def test_metadata_is_stripped(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        assert decoded(photo_jpeg()).getexif()  # the upload carries EXIF
        await put(client, auth_headers, photo_jpeg(), "image/jpeg")
        image = await stored_avatar(client, auth_headers)
        assert not image.getexif()
        assert "icc_profile" not in image.info
        assert "exif" not in image.info

    async def test_transparency_is_composited_on_white(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await put(client, auth_headers, png_with_alpha(), "image/png")
        image = await stored_avatar(client, auth_headers)
        # centre crop of 200x100 keeps x 50..150: transparent (white) left, red right
        assert near(image.getpixel((10, 64)), (255, 255, 255))  # type: ignore[arg-type]
        assert near(image.getpixel((118, 64)), RED)  # type: ignore[arg-type]

    async def test_exif_rotation_is_applied(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await put(client, auth_headers, exif_rotated_jpeg(), "image/jpeg")
        image = await stored_avatar(client, auth_headers)
        # upright: red above green (unrotated it would be red left, green right)
        assert near(image.getpixel((64, 10)), RED)  # type: ignore[arg-type]
        assert near(image.getpixel((64, 118)), GREEN)  # type: ignore[arg-type]
        assert near(image.getpixel((10, 118)), GREEN)  # type: ignore[arg-type]

    async def test_multipart_file_field(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.put(
            "/user/me/avatar",
            files={"file": ("me.png", png_with_alpha(), "image/png")},
            headers=auth_headers,
        )
        assert response.status_code == 200, response.text
        assert (await stored_avatar(client, auth_headers)).size == (128, 128)
        wrong_field = await client.put(
            "/user/me/avatar",
            files={"picture": ("me.png", png_with_alpha(), "image/png")},
            headers=auth_headers,
        )
        assert_error(wrong_field, 422, "invalid_input")

    async def test_a_new_upload_replaces_the_old(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        first = (await put(client, auth_headers, photo_jpeg(), "image/jpeg")).json()
        second = (await put(client, auth_headers, png_with_alpha(), "image/png")).json()
        assert first["etag"] != second["etag"]
        response = await client.get("/user/me/avatar", headers=auth_headers)
        assert response.headers["etag"] == second["etag"]


class TestRefusals:
    @pytest.mark.parametrize(
        ("data", "content_type", "status", "code", "words"),
        [
            (b"hello, I am a text file\n", "image/png", 422, "invalid_image", "not an image"),
            (photo_jpeg()[:1500], "image/jpeg", 422, "invalid_image", "truncated"),
            (pixel_bomb(), "image/png", 422, "invalid_image", "too many pixels"),
            (b"hello", "text/plain", 415, "unsupported_media_type", "image/jpeg"),
            (b"", "image/png", 422, "invalid_image", "empty"),
        ],
        ids=["text-file", "truncated-jpeg", "pixel-bomb", "text-content-type", "empty"],
    )
    async def test_clear_4xx(
        self,
        client: httpx.AsyncClient,
        auth_headers: dict[str, str],
        data: bytes,
        content_type: str,
        status: int,
        code: str,
        words: str,
    ) -> None:
        body = assert_error(await put(client, auth_headers, data, content_type), status, code)
        assert words in str(body["detail"])
        assert (await client.get("/user/me/avatar", headers=auth_headers)).status_code == 404

    async def test_more_than_5_mb_is_413(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        just_over = photo_jpeg() + b"\0" * (5 * 1024 * 1024)
        assert_error(
            await put(client, auth_headers, just_over, "image/jpeg"), 413, "payload_too_large"
        )
        way_over = b"\0" * (6 * 1024 * 1024)
        assert_error(
            await put(client, auth_headers, way_over, "image/jpeg"), 413, "payload_too_large"
        )

    async def test_a_large_photo_under_5_mb_is_fine(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        noisy = Image.frombytes("RGB", (1200, 900), random.Random(7).randbytes(1200 * 900 * 3))
        data = encode(noisy, "PNG")
        assert 1_000_000 < len(data) < 5 * 1024 * 1024  # over the JSON body limit
        assert (await put(client, auth_headers, data, "image/png")).status_code == 200

    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        assert_error(await put(client, {}, photo_jpeg(), "image/jpeg"), 401, "not_authenticated")


class TestServing:
    async def test_etag_and_304(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await put(client, auth_headers, photo_jpeg(), "image/jpeg")
        first = await client.get("/user/me/avatar", headers=auth_headers)
        etag = first.headers["etag"]
        assert etag.startswith('"')
        assert etag.endswith('"')
        cached = await client.get(
            "/user/me/avatar", headers={**auth_headers, "If-None-Match": etag}
        )
        assert cached.status_code == 304
        assert cached.content == b""
        assert cached.headers["etag"] == etag
        other = await client.get(
            "/user/me/avatar", headers={**auth_headers, "If-None-Match": '"x"'}
        )
        assert other.status_code == 200

    async def test_anyone_can_see_a_users_avatar(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await put(client, auth_headers, photo_jpeg(), "image/jpeg")
        mine = await client.get("/user/me/avatar", headers=auth_headers)
        public = await client.get("/users/eric/avatar")
        assert public.status_code == 200
        assert public.content == mine.content
        assert public.headers["etag"] == mine.headers["etag"]
        cached = await client.get(
            "/users/eric/avatar", headers={"If-None-Match": mine.headers["etag"]}
        )
        assert cached.status_code == 304

    async def test_no_avatar_is_404(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        assert_error(await client.get("/user/me/avatar", headers=auth_headers), 404, "not_found")
        assert_error(await client.get("/users/eric/avatar"), 404, "not_found")
        assert_error(await client.get("/users/nobody/avatar"), 404, "not_found")
