"""/docs and /redoc work with no internet: assets come from the installed package, and a real
headless Chromium with no network renders every operation and runs a whole session from /docs."""

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from simplechat.kit.docs import ASSETS_URL, assets_dir
from tests.browser import BrowserError, Chromium, find_chromium
from tests.factories import serve

SEED = "hi, my name is Eric"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})
# ReDoc's "API docs by Redocly" footer logo is an <img> from Redocly's CDN; offline it is blank.
REDOC_BRANDING = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# Fills React-controlled inputs the way typing does, and reads an operation's live response.
PAGE_HELPERS = """
window.sc = {
  op: (id) => document.getElementById(id),
  open(id) {
    const op = this.op(id);
    if (!op.classList.contains('is-open')) op.querySelector('.opblock-summary-control').click();
  },
  type(element, value) {
    const proto = element.tagName === 'TEXTAREA' ? HTMLTextAreaElement : HTMLInputElement;
    Object.getOwnPropertyDescriptor(proto.prototype, 'value').set.call(element, value);
    element.dispatchEvent(new Event('input', {bubbles: true}));
    element.dispatchEvent(new Event('change', {bubbles: true}));
  },
  status(id) {
    const cell = this.op(id).querySelector('.live-responses-table tbody .response-col_status');
    return cell ? cell.innerText.trim() : '';
  },
  body(id) {
    const table = this.op(id).querySelector('.live-responses-table tbody');
    const code = table && table.querySelector('.response-col_description pre');
    return code ? code.innerText : '';
  },
};
true
"""


def count_operations(spec: dict[str, Any]) -> int:
    return sum(1 for item in spec["paths"].values() for method in item if method in HTTP_METHODS)


def skip_or_fail_without_chromium() -> None:
    if find_chromium() is None:
        reason = (
            "Chromium is not installed (apt-get install chromium; .ci/run installs it when it "
            "runs as root on Debian/Ubuntu), so /docs cannot be checked in a real browser"
        )
        if os.environ.get("SIMPLECHAT_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)


class TestOfflineAssets:
    async def test_docs_page_references_only_this_server(self, client: httpx.AsyncClient) -> None:
        for page in ("/docs", "/redoc"):
            response = await client.get(page)
            assert response.status_code == 200
            assert "http://" not in response.text, page
            assert "https://" not in response.text, page
            assert f"{ASSETS_URL}/" in response.text

    async def test_assets_are_served_from_the_installed_package(
        self, client: httpx.AsyncClient
    ) -> None:
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            response = await client.get(f"{ASSETS_URL}/{name}")
            assert response.status_code == 200, name
            assert response.content == (assets_dir() / name).read_bytes()
        bundle = (assets_dir() / "swagger-ui-bundle.js").read_text()
        assert 'PACKAGE_VERSION:"5.' in bundle  # Swagger UI 5 reads the OpenAPI 3.1 FastAPI writes

    async def test_swagger_keeps_authorization_and_fetches_nothing_else(
        self, client: httpx.AsyncClient
    ) -> None:
        page = (await client.get("/docs")).text
        assert '"persistAuthorization": true' in page
        assert '"validatorUrl": null' in page
        redirect = await client.get("/docs/oauth2-redirect")
        assert redirect.status_code == 200

    async def test_docs_pages_are_not_in_the_schema(self, client: httpx.AsyncClient) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert not {"/docs", "/redoc", "/docs/oauth2-redirect", "/metrics"} & set(paths)


class TestOpenAPI:
    async def test_every_operation_is_documented(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                where = f"{method.upper()} {path}"
                assert operation.get("summary"), where
                assert operation.get("description"), where
                assert {"200", "201", "202", "204"} & set(operation["responses"]), where
                errors = [s for s in operation["responses"] if s.startswith(("4", "5"))]
                assert errors, f"{where} declares no error response"
                for status in errors:
                    content = operation["responses"][status]["content"]["application/json"]
                    assert content["schema"], f"{where} {status}"

    async def test_examples_come_from_the_seed(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        text = json.dumps(spec)
        assert SEED in text
        schemas = spec["components"]["schemas"]
        assert schemas["MessageRequest"]["properties"]["message"]["examples"] == [SEED]
        assert schemas["UserCreate"]["properties"]["username"]["examples"] == ["eric"]
        history = spec["paths"]["/user/history/{last_n}"]["get"]["responses"]["200"]
        assert history["content"]["application/json"]["example"][0]["text"] == SEED

    async def test_authorize_uses_the_token_endpoint(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        scheme = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]
        assert scheme["flows"]["password"]["tokenUrl"] == "token"
        assert "/token" in spec["paths"]


async def run_session_in_swagger(browser: Chromium, base: str, operations: int) -> None:
    """Sign up, authorize, chat and read the history, all by clicking in /docs."""
    await browser.navigate(f"{base}/docs")
    rendered = await browser.wait_for(
        f"document.querySelectorAll('.opblock').length === {operations} && "
        "document.querySelectorAll('.opblock').length"
    )
    assert rendered == operations
    await browser.evaluate(PAGE_HELPERS)

    sign_up = "operations-accounts-create_user"
    await browser.evaluate(f"sc.open('{sign_up}')")
    body = json.dumps({"username": "eric", "password": "correct horse"})
    await browser.wait_for(f"!!sc.op('{sign_up}').querySelector('textarea.body-param__text')")
    await browser.evaluate(
        f"sc.type(sc.op('{sign_up}').querySelector('textarea.body-param__text'), {body!r})"
    )
    await browser.evaluate(f"sc.op('{sign_up}').querySelector('.execute').click()")
    assert await browser.wait_for(f"sc.status('{sign_up}')") == "201"

    await browser.evaluate("document.querySelector('.auth-wrapper .authorize').click()")
    await browser.wait_for("!!document.getElementById('oauth_username')")
    await browser.evaluate("sc.type(document.getElementById('oauth_username'), 'eric')")
    await browser.evaluate("sc.type(document.getElementById('oauth_password'), 'correct horse')")
    await browser.evaluate("document.querySelector('.auth-btn-wrapper .authorize').click()")
    await browser.wait_for(  # authorized: the dialog now offers Logout
        "[...document.querySelectorAll('.auth-btn-wrapper button')]"
        ".some(b => b.innerText.trim() === 'Logout')"
    )
    await browser.evaluate("document.querySelector('.auth-btn-wrapper .btn-done').click()")

    chat = "operations-chat-send_message"
    await browser.evaluate(f"sc.open('{chat}')")
    await browser.wait_for(f"!!sc.op('{chat}').querySelector('textarea.body-param__text')")
    message = json.dumps({"message": SEED})
    await browser.evaluate(
        f"sc.type(sc.op('{chat}').querySelector('textarea.body-param__text'), {message!r})"
    )
    await browser.evaluate(f"sc.op('{chat}').querySelector('.execute').click()")
    assert await browser.wait_for(f"sc.status('{chat}')") == "200"
    answer = json.loads(await browser.evaluate(f"sc.body('{chat}')"))
    assert answer["mock"] is True
    assert SEED in answer["response"]

    history = "operations-user-read_history"
    await browser.evaluate(f"sc.open('{history}')")
    await browser.wait_for(f"!!sc.op('{history}').querySelector('input[placeholder=\"last_n\"]')")
    await browser.evaluate(
        f"sc.type(sc.op('{history}').querySelector('input[placeholder=\"last_n\"]'), '2')"
    )
    await browser.evaluate(f"sc.op('{history}').querySelector('.execute').click()")
    assert await browser.wait_for(f"sc.status('{history}')") == "200"
    entries = json.loads(await browser.evaluate(f"sc.body('{history}')"))
    assert [e["type"] for e in entries] == ["user", "ai"]
    assert entries[0]["text"] == SEED


async def test_chromium_offline_renders_docs_and_runs_a_session(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    skip_or_fail_without_chromium()
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    with serve(mongo_uri, database_name, server_dir) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            spec = (await http.get("/openapi.json")).json()
        operations = count_operations(spec)
        async with Chromium.launch(tmp_path / "profile") as browser:
            try:
                await run_session_in_swagger(browser, base, operations)
                await browser.navigate(f"{base}/redoc")
                redoc_operations = await browser.wait_for(
                    "document.querySelectorAll('[data-section-id^=\"operation/\"]').length"
                    f" >= {operations} && "
                    "document.querySelectorAll('[data-section-id^=\"operation/\"]').length"
                )
            except (BrowserError, AssertionError, TimeoutError) as exc:
                shot = tmp_path / "failure.png"
                await asyncio.wait_for(browser.screenshot(shot), timeout=10)
                raise AssertionError(f"{exc} (screenshot: {shot})") from exc
            assert redoc_operations == operations
            outside = [
                url
                for url in browser.requested_urls
                if url.startswith(("http:", "https:"))
                and not url.startswith(base)
                and url != REDOC_BRANDING
            ]
            assert outside == [], "the docs pages asked for something outside this server"
            assert browser.console_errors == []
