"""The console's files: `/` and `/ui` lead to `/ui/`, the page; `/ui/assets/...` its modules.

Every answer carries a strict Content-Security-Policy: scripts and styles only from this
server (no inline script, no inline style attribute), images only from here or the page's own
data:/blob: URLs, requests only to this origin, no frames, no plugins, no form posted anywhere.
Assets are revalidated on every load (`no-cache` with an ETag): there is no build step that
would give them hashed names, and an upgraded server must never run yesterday's modules.
"""

import asyncio
from hashlib import sha256
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import RedirectResponse, Response

from simplechat.kit.errors import NotFound

ASSETS = Path(str(files("simplechat.console").joinpath("assets")))
UI_PATH = "/ui/"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",  # forms are sent by script: a native submit would leak fields
        "frame-ancestors 'none'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}

router = APIRouter(include_in_schema=False)

IfNoneMatch = Annotated[str | None, Header()]


def _asset(name: str) -> Path:
    """The file `name` under assets/ (404 for anything outside it, hidden, or of an unknown
    kind)."""
    path = (ASSETS / name).resolve()
    hidden = any(part.startswith(".") for part in Path(name).parts)
    if hidden or not path.is_relative_to(ASSETS.resolve()) or not path.is_file():
        raise NotFound("No such file in the console.")
    if path.suffix not in CONTENT_TYPES:
        raise NotFound("No such file in the console.")
    return path


async def _file(path: Path, if_none_match: str | None) -> Response:
    content = await asyncio.to_thread(path.read_bytes)
    etag = f'"{sha256(content).hexdigest()[:32]}"'
    headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=CONTENT_TYPES[path.suffix], headers=headers)


def _to_page(request: Request) -> RedirectResponse:
    root = request.scope.get("root_path", "")
    return RedirectResponse(f"{root}{UI_PATH}", status_code=307)


@router.get("/")
async def root(request: Request) -> RedirectResponse:
    return _to_page(request)


@router.get("/ui")
async def ui_without_slash(request: Request) -> RedirectResponse:
    return _to_page(request)


@router.get(UI_PATH)
async def page(if_none_match: IfNoneMatch = None) -> Response:
    return await _file(_asset("index.html"), if_none_match)


@router.get(UI_PATH + "assets/{name:path}")
async def asset(name: str, if_none_match: IfNoneMatch = None) -> Response:
    return await _file(_asset(name), if_none_match)
