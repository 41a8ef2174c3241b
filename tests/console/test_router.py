"""The console's files through the app: where / and /ui lead, the page and its assets with
their Content-Security-Policy, conditional requests, and nothing served from outside assets/."""

import httpx
import pytest

from simplechat.console.router import ASSETS, CONTENT_SECURITY_POLICY, _asset
from simplechat.kit.errors import NotFound

DIRECTIVES = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))


@pytest.mark.parametrize("path", ["/", "/ui"])
async def test_the_root_and_ui_lead_to_the_page(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 307
    assert response.headers["location"] == "/ui/"


async def test_the_page_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == (ASSETS / "index.html").read_text()
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-cache"


def test_the_policy_allows_nothing_inline_and_nothing_from_elsewhere() -> None:
    assert DIRECTIVES["default-src"] == "'none'"
    assert DIRECTIVES["script-src"] == "'self'"
    assert DIRECTIVES["style-src"] == "'self'"
    assert DIRECTIVES["connect-src"] == "'self'"
    assert DIRECTIVES["img-src"] == "'self' data: blob:"
    assert DIRECTIVES["frame-ancestors"] == "'none'"
    assert DIRECTIVES["form-action"] == "'none'"
    assert DIRECTIVES["object-src"] == "'none'"
    assert DIRECTIVES["base-uri"] == "'none'"
    for value in DIRECTIVES.values():
        assert "unsafe" not in value
        assert "http" not in value


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("js/main.js", "text/javascript; charset=utf-8"),
        ("css/console.css", "text/css; charset=utf-8"),
        ("vendor/marked.esm.js", "text/javascript; charset=utf-8"),
        ("img/logo.svg", "image/svg+xml"),
    ],
)
async def test_assets_are_served_with_their_type_and_the_policy(
    client: httpx.AsyncClient, name: str, content_type: str
) -> None:
    response = await client.get(f"/ui/assets/{name}")
    assert response.status_code == 200, name
    assert response.headers["content-type"] == content_type
    assert response.content == (ASSETS / name).read_bytes()
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_unchanged_asset_is_not_sent_again(client: httpx.AsyncClient) -> None:
    first = await client.get("/ui/assets/js/chat.js")
    etag = first.headers["etag"]
    again = await client.get("/ui/assets/js/chat.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await client.get("/ui/assets/js/chat.js", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "../router.py",
        "..%2F__init__.py",
        "js/../../router.py",
        "%2e%2e/%2e%2e/app.py",
        "nothing.js",
        "js",
        ".hidden.js",
    ],
)
async def test_nothing_outside_the_assets_is_served(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/ui/assets/{name}")
    assert response.status_code == 404, name
    assert response.json()["code"] == "not_found"


async def test_console_routes_are_not_in_the_schema(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path == "/" or path.startswith("/ui")]


@pytest.mark.parametrize(
    "name", ["../router.py", "js/../../__init__.py", "/etc/passwd", "js/.x.js", "../assets"]
)
def test_a_name_that_leaves_the_assets_is_refused(name: str) -> None:
    """The check itself (a client's URL normalisation would hide most of these)."""
    with pytest.raises(NotFound):
        _asset(name)


def test_folders_are_refused() -> None:
    assert _asset("js/main.js").name == "main.js"
    with pytest.raises(NotFound):
        _asset("vendor")
