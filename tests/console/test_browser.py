"""The console in a real headless Chromium: Playwright drives the system's Chromium (Debian's
/usr/bin/chromium; no browser is ever downloaded) against `simplechat serve` and a slow fake
OpenRouter on 127.0.0.1. The browser can reach nothing but the loopback (tests/browser.py's
flags), and every page records each URL it asks for, its uncaught errors and any
Content-Security-Policy violation: each test ends by checking that all three are clean.

With SIMPLECHAT_CONSOLE_SCREENSHOTS=1 the screenshot test writes docs/console/*.png (the
pictures docs/console.md shows); otherwise into a temporary folder.
"""

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI, AuthenticationError
from pymongo import AsyncMongoClient

from tests.browser import OFFLINE_FLAGS, find_chromium
from tests.factories import promote_to_admin, running_server
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # pragma: no cover - the dev extra installs it
    async_playwright = None

MODEL = "mistralai/mistral-7b-instruct"
PASSWORD = "correct horse battery"
PRICED = f"""
[[models]]
name = "{MODEL}"
max_output_tokens = 400
price = {{ input = "0.5", output = "1.5" }}
"""
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SESSION_KEY = "simplechat.session"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
# Chromium's own flags (headless, no sandbox) are Playwright's; these cut it off from anything
# but the loopback, as for the /docs test.
NETWORK_FLAGS = [
    flag
    for flag in OFFLINE_FLAGS
    if flag.startswith(("--host-resolver-rules", "--proxy-server", "--disable-"))
]
WATCH_POLICY = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""
XSS_REPLY = (
    'Look: <img src=x onerror="window.__pwned=1"> and <script>window.__pwned=2</script> '
    "then **bold** and `<b>code</b>`\n\n```html\n<script>window.__pwned=3</script>\n```\n\n"
    "[a link](javascript:window.__pwned=5) ![a picture](http://example.com/x.png)"
)
XSS_MESSAGE = '<img src=x onerror="window.__pwned=4"> <script>window.__pwned=6</script>'


def require_browser() -> None:
    """Skip without Chromium or Playwright, unless CI said a browser must be there."""
    missing = None
    if find_chromium() is None:
        missing = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"
    elif async_playwright is None:
        missing = "Playwright is not installed (pip install -e '.[dev]')"
    if missing is None:
        return
    if os.environ.get("SIMPLECHAT_REQUIRE_BROWSER"):
        pytest.fail(missing)
    pytest.skip(missing)


@dataclass
class Watched:
    """A page and what it did that it must not: ask another host, throw, break its policy."""

    page: Any
    base: str
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def check(self) -> None:
        violations = await self.page.evaluate("window.__violations || []")
        assert self.outside == [], "the console asked for something outside this server"
        assert self.errors == [], "the page threw"
        assert violations == [], "the page broke its own Content-Security-Policy"


@dataclass
class Console:
    base: str
    upstream: FakeOpenRouter
    browser: Any
    database: str
    mongo_uri: str

    @asynccontextmanager
    async def page(self, viewport: dict[str, int] = DESKTOP) -> AsyncIterator[Watched]:
        """A fresh browser profile (its own storage) with one watched page; checked at the end."""
        context = await self.browser.new_context(viewport=viewport, service_workers="block")
        await context.add_init_script(WATCH_POLICY)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        watched = Watched(page, self.base)

        def on_request(request: Any) -> None:
            if not request.url.startswith((self.base + "/", "data:", "blob:")):
                watched.outside.append(request.url)

        page.on("request", on_request)
        page.on("pageerror", lambda error: watched.errors.append(str(error)))
        try:
            yield watched
            await watched.check()
        finally:
            await context.close()

    async def second_page(self, first: Watched) -> Watched:
        """Another tab of the same profile (same storage) as `first`."""
        page = await first.page.context.new_page()
        page.set_default_timeout(15_000)
        watched = Watched(page, self.base)
        page.on("pageerror", lambda error: watched.errors.append(str(error)))
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith((self.base + "/", "data:", "blob:"))
                else watched.outside.append(r.url)
            ),
        )
        return watched

    def upstream_says(self, reply: str, *, delay: float = 0.0) -> None:
        self.upstream.reply = reply
        self.upstream.chunk_delay = delay

    async def api_token(self, username: str) -> str:
        async with httpx.AsyncClient(base_url=self.base) as http:
            response = await http.post("/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def messages(self, username: str) -> list[dict[str, Any]]:
        """The user's newest conversation's messages, as the API has them."""
        headers = {"Authorization": f"Bearer {await self.api_token(username)}"}
        async with httpx.AsyncClient(base_url=self.base, headers=headers) as http:
            conversations = (await http.get("/conversations")).json()["items"]
            first = conversations[0]["id"]
            found: list[dict[str, Any]] = (
                await http.get(f"/conversations/{first}/messages?page_size=100")
            ).json()["items"]
        return found


@pytest.fixture(scope="module")
async def console(
    mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Console]:
    require_browser()
    data_dir = tmp_path_factory.mktemp("console-server")
    (data_dir / "models.toml").write_text(PRICED, encoding="utf-8")
    database = f"simplechat_console_{uuid.uuid4().hex[:10]}"
    env = {
        "OPENROUTER_API_KEY": TEST_API_KEY,
        "SIMPLECHAT_MODELS_FILE": str(data_dir / "models.toml"),
        "SIMPLECHAT_CREDITS": "on",
        "SIMPLECHAT_SIGNUP_CREDITS": "100",
        "SIMPLECHAT_BURST_LIMIT": "50",
        "SIMPLECHAT_READ_TIMEOUT_SECONDS": "30",
    }
    async with FakeOpenRouter() as upstream, async_playwright() as playwright:
        env["OPENROUTER_BASE_URL"] = upstream.base_url
        browser = await playwright.chromium.launch(
            executable_path=find_chromium(), args=NETWORK_FLAGS
        )
        try:
            # Starting the server blocks this loop a moment; the fake upstream is idle then.
            with running_server(
                data_dir, mongo_uri=mongo_uri, database=database, workers=1, **env
            ) as served:
                yield Console(served.base, upstream, browser, database, mongo_uri)
        finally:
            await browser.close()
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
            await client.drop_database(database)
            await client.close()


def unique(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:6]}"


async def sign_up(watched: Watched, username: str) -> None:
    page = watched.page
    await page.goto(watched.base + "/")
    assert page.url == f"{watched.base}/ui/"
    await page.get_by_test_id("signup-link").click()
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("chat-input")).to_be_visible()


async def sign_in(watched: Watched, username: str) -> None:
    page = watched.page
    await page.goto(watched.base + "/ui/")
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(PASSWORD)
    await page.get_by_test_id("login-password").press("Enter")
    await expect(page.get_by_test_id("chat-input")).to_be_visible()


def bubbles(page: Any, role: str) -> Any:
    return page.locator(f'[data-testid="message"][data-role="{role}"]')


async def send(page: Any, text: str) -> None:
    await page.get_by_test_id("chat-input").fill(text)
    await page.get_by_test_id("chat-input").press("Enter")


async def answered(page: Any) -> None:
    """Wait until the page has read the finished exchange back from the server."""
    await expect(page.get_by_test_id("chat-stop")).to_be_hidden(timeout=30_000)
    await expect(bubbles(page, "assistant").last.get_by_test_id("message-meta")).to_contain_text(
        "output tokens"
    )


async def sample_while(
    probe: Callable[[], Awaitable[Any]], until: Callable[[], Awaitable[bool]], seconds: float
) -> list[Any]:
    """`probe()` every 40 ms until `until()` holds (or `seconds` pass)."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        seen.append(await probe())
        if await until():
            break
        await asyncio.sleep(0.04)
    return seen


async def test_sign_up_and_a_streamed_answer_appears_piece_by_piece(console: Console) -> None:
    words = [f"word{i}" for i in range(1, 41)]
    console.upstream_says(" ".join(words), delay=0.06)  # about 2.4 s in all
    async with console.page() as watched:
        page = watched.page
        await sign_up(watched, unique("ada"))
        await expect(page.get_by_test_id("chat-empty")).to_be_visible()
        await expect(page.get_by_test_id("limit-left")).to_have_text("20 of 20 messages left today")
        picked = page.get_by_test_id("model-select").locator("option:checked")
        await expect(picked).to_have_text(f"{MODEL} · 32.8k · 0.50/1.50 per 1k")
        await expect(page.get_by_test_id("model-info")).to_contain_text("32,768-token context")
        await expect(page.get_by_test_id("model-info")).to_contain_text(
            "0.50 credits per 1,000 prompt tokens, 1.50 per 1,000 output tokens"
        )

        await page.get_by_test_id("chat-input").fill("first line")
        await page.get_by_test_id("chat-input").press("Shift+Enter")
        await page.get_by_test_id("chat-input").press_sequentially("second line")
        assert await page.get_by_test_id("chat-input").input_value() == "first line\nsecond line"
        assert await bubbles(page, "user").count() == 0  # Shift+Enter only added a line
        await page.get_by_test_id("chat-input").press("Enter")

        answer = bubbles(page, "assistant").last
        await expect(answer).to_be_visible()
        await expect(page.get_by_test_id("chat-stop")).to_be_visible()
        lengths = await sample_while(
            lambda: answer.locator(".content").evaluate("e => e.textContent.length"),
            lambda: page.get_by_test_id("chat-stop").is_hidden(),
            seconds=30,
        )
        final = " ".join(words)
        await answered(page)
        await expect(answer.locator(".content")).to_have_text(final)
        partial = sorted({n for n in lengths if 0 < n < len(final)})
        assert len(partial) >= 5, f"the answer did not come piece by piece: {lengths}"
        assert lengths == sorted(lengths), "the answer shrank while streaming"

        assert await bubbles(page, "user").locator(".content").inner_text() == (
            "first line\nsecond line"
        )
        meta = await answer.get_by_test_id("message-meta").inner_text()
        found = re.search(r"(\d+) prompt \+ (\d+) output tokens · ([\d.]+) credits", meta)
        assert found, meta
        assert MODEL in meta
        prompt, output, cost = int(found[1]), int(found[2]), Decimal(found[3])
        assert output == 40
        assert cost == (Decimal(prompt) * Decimal("0.5") + output * Decimal("1.5")) / 1000
        await expect(page.get_by_test_id("conversation-item")).to_have_count(1)
        await expect(page.get_by_test_id("conversation-item")).to_contain_text("first line")
        await expect(page.get_by_test_id("limit-left")).to_have_text("19 of 20 messages left today")
        assert "/ui/#/chat/" in page.url


async def test_stop_aborts_the_stream_and_the_server_keeps_what_was_said(
    console: Console,
) -> None:
    words = [f"slow{i}" for i in range(1, 201)]
    console.upstream_says(" ".join(words), delay=0.1)  # 20 s if nobody stops it
    aborted_before = console.upstream.aborted_streams
    username = unique("stopper")
    async with console.page() as watched:
        page = watched.page
        await sign_up(watched, username)
        await send(page, "tell me a long story")
        answer = bubbles(page, "assistant").last
        await expect(answer.locator(".content")).to_contain_text("slow5")
        await page.get_by_test_id("chat-stop").click()
        await expect(page.get_by_test_id("chat-stop")).to_be_hidden()
        await expect(page.get_by_test_id("chat-send")).to_be_visible()
        await expect(answer).to_have_attribute("data-status", "stopped")
        shown = await answer.locator(".content").inner_text()
        await asyncio.sleep(1.0)
        assert await answer.locator(".content").inner_text() == shown  # nothing more came
        assert "slow200" not in shown

        # The server saw the page leave: it stopped the upstream and stored the cut answer.
        for _ in range(100):
            if console.upstream.aborted_streams > aborted_before:
                break
            await asyncio.sleep(0.05)
        assert console.upstream.aborted_streams > aborted_before
        for _ in range(100):
            stored = await console.messages(username)
            if len(stored) == 2:
                break
            await asyncio.sleep(0.1)
        reply = stored[-1]
        assert reply["status"] == "incomplete"
        assert shown.startswith(reply["content"].strip()) or reply["content"].startswith(shown)

        # Reopening the conversation shows the stored, cut answer: it can be answered again.
        await page.reload()
        await expect(bubbles(page, "assistant")).to_have_count(1)
        await expect(bubbles(page, "assistant").get_by_test_id("message-meta")).to_contain_text(
            "cut short"
        )
        await expect(page.get_by_test_id("chat-regenerate")).to_be_visible()


async def test_replies_and_user_text_render_as_text_never_as_html(console: Console) -> None:
    console.upstream_says(XSS_REPLY)
    async with console.page() as watched:
        page = watched.page
        await sign_up(watched, unique("mallory"))
        await send(page, XSS_MESSAGE)
        await answered(page)
        for attempt in ("as answered", "after a reload"):
            answer = bubbles(page, "assistant").last
            mine = bubbles(page, "user").last
            assert await page.evaluate("window.__pwned") is None, attempt
            assert await page.locator("[data-testid=message] img").count() == 0, attempt
            assert await page.locator("[data-testid=message] script").count() == 0, attempt
            assert await page.locator("script").count() == 1, attempt  # the console's own
            text = await answer.locator(".content").text_content()
            assert '<img src=x onerror="window.__pwned=1">' in text
            assert "<script>window.__pwned=2</script>" in text
            assert await answer.locator("strong").inner_text() == "bold"  # Markdown still works
            assert await answer.locator(":not(pre) > code").inner_text() == "<b>code</b>"
            assert (
                "<script>window.__pwned=3</script>" in await answer.locator("pre code").inner_text()
            )
            assert await answer.locator("a").count() == 1  # the picture, as a link (not loaded)
            assert await answer.locator("a").get_attribute("href") == "http://example.com/x.png"
            assert "[a link](javascript:window.__pwned=5)" in text  # not a link at all
            assert await mine.locator(".content").inner_text() == XSS_MESSAGE
            title = await page.get_by_test_id("conversation-title").inner_text()
            assert title.startswith("<img src=x")
            await page.reload()
            await expect(bubbles(page, "assistant")).to_have_count(1)


async def test_a_key_made_in_the_page_works_in_the_openai_sdk_until_an_admin_disables_its_user(
    console: Console,
) -> None:
    console.upstream_says("Hello from the fake upstream!")
    user, boss = unique("grace"), unique("boss")
    async with console.page() as watched, console.page() as admin:
        page = watched.page
        await sign_up(watched, user)
        await expect(page.get_by_test_id("nav-admin")).to_have_count(0)
        await page.get_by_test_id("nav-account").click()
        await page.get_by_test_id("account-tab-keys").click()
        await page.get_by_test_id("key-name").fill("sdk on my laptop")
        await page.get_by_test_id("key-daily-limit").fill("100")
        await page.get_by_test_id("key-create").click()
        secret = await page.get_by_test_id("key-secret").inner_text()
        assert secret.startswith("sk-sc-")
        await expect(page.get_by_test_id("key-row")).to_have_count(1)
        await expect(page.get_by_test_id("key-row")).to_contain_text("100 calls a day")
        assert secret not in await page.get_by_test_id("keys").inner_text()  # masked in the list

        sdk = AsyncOpenAI(base_url=f"{console.base}/v1", api_key=secret, max_retries=0)
        reply = await sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi from the SDK"}]
        )
        assert reply.choices[0].message.content == "Hello from the fake upstream!"
        await page.reload()
        await expect(page.get_by_test_id("key-row")).to_contain_text("sdk on my laptop")
        await page.get_by_test_id("nav-chat").click()
        await expect(page.get_by_test_id("limit-left")).to_be_visible()
        token = json.loads(await page.evaluate(f"localStorage.getItem('{SESSION_KEY}')"))

        # An admin, in another browser, finds the user and disables them.
        async with httpx.AsyncClient(base_url=console.base) as http:
            made = await http.post("/user/", json={"username": boss, "password": PASSWORD})
            assert made.status_code == 201, made.text
        promote_to_admin(console.mongo_uri, console.database, boss)
        await sign_in(admin, boss)
        await admin.page.get_by_test_id("nav-admin").click()
        await admin.page.get_by_test_id("admin-users-search").fill(user)
        row = admin.page.get_by_test_id("admin-users-row").filter(has_text=user)
        await expect(admin.page.get_by_test_id("admin-users-row")).to_have_count(1)
        await row.click()
        await admin.page.get_by_test_id("admin-user-disable").click()
        await expect(admin.page.get_by_test_id("admin-user-detail")).to_contain_text(
            f"{user} (disabled)"
        )
        await expect(row).to_contain_text("disabled")

        # The user's next message is refused, in the page, with the API's own words.
        await send(page, "am I still here?")
        error = page.get_by_test_id("chat-error")
        await expect(error).to_be_visible()
        async with httpx.AsyncClient(base_url=console.base) as http:
            refused = await http.post(
                "/llm/message",
                json={"message": "am I still here?"},
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
        assert refused.status_code == 401
        await expect(error).to_have_text(refused.json()["detail"])
        await expect(page.get_by_test_id("session-ended")).to_contain_text(refused.json()["detail"])
        await expect(bubbles(page, "assistant")).to_have_count(0)
        assert await page.get_by_test_id("chat-input").input_value() == "am I still here?"
        with pytest.raises(AuthenticationError):
            await sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "and now?"}]
            )
        await sdk.close()


async def test_tokens_are_refreshed_silently_and_logout_revokes_them(console: Console) -> None:
    async with console.page() as watched:
        page = watched.page
        await sign_up(watched, unique("tabs"))
        first = json.loads(await page.evaluate(f"localStorage.getItem('{SESSION_KEY}')"))

        # An access token about to run out, in two tabs at once: one refresh, both stay in.
        other = await console.second_page(watched)
        await page.evaluate(
            f"""() => {{
              const s = JSON.parse(localStorage.getItem('{SESSION_KEY}'));
              s.expires_at = Date.now();
              localStorage.setItem('{SESSION_KEY}', JSON.stringify(s));
            }}"""
        )
        await asyncio.gather(page.reload(), other.page.goto(console.base + "/ui/"))
        for tab in (page, other.page):
            await expect(tab.get_by_test_id("chat-input")).to_be_visible()
            await expect(tab.get_by_test_id("session-ended")).to_be_hidden()
        await asyncio.sleep(0.5)
        now = json.loads(await page.evaluate(f"localStorage.getItem('{SESSION_KEY}')"))
        assert now["refresh_token"] != first["refresh_token"]
        assert now["expires_at"] > first["expires_at"] - 5_000
        assert now == json.loads(
            await other.page.evaluate(f"localStorage.getItem('{SESSION_KEY}')")
        )
        # Two refreshes with one token would have revoked the whole login: the new refresh
        # token still works, so exactly one tab refreshed and the other adopted its tokens.
        async with httpx.AsyncClient(base_url=console.base) as http:
            fresh = await http.post("/token/refresh", json={"refresh_token": now["refresh_token"]})
        assert fresh.status_code == 200, fresh.text
        await other.check()

    async with console.page() as watched:
        page = watched.page
        await sign_up(watched, unique("leaver"))
        # A refused access token (say, the signing secret changed) is refreshed once, quietly.
        await page.evaluate(
            f"""() => {{
              const s = JSON.parse(localStorage.getItem('{SESSION_KEY}'));
              s.access_token = 'not-a-token';
              localStorage.setItem('{SESSION_KEY}', JSON.stringify(s));
            }}"""
        )
        await page.reload()
        await expect(page.get_by_test_id("chat-input")).to_be_visible()
        await expect(page.get_by_test_id("who")).to_be_visible()
        stored = json.loads(await page.evaluate(f"localStorage.getItem('{SESSION_KEY}')"))
        assert stored["access_token"] != "not-a-token"

        await page.get_by_test_id("logout").click()
        await expect(page.get_by_test_id("login-submit")).to_be_visible()
        assert await page.evaluate(f"localStorage.getItem('{SESSION_KEY}')") is None
        async with httpx.AsyncClient(base_url=console.base) as http:
            revoked = await http.post(
                "/token/refresh", json={"refresh_token": stored["refresh_token"]}
            )
        assert revoked.status_code == 401


async def test_screenshots_of_chat_account_and_admin_at_desktop_and_phone_width(
    console: Console, tmp_path: Path
) -> None:
    folder = SCREENSHOTS if os.environ.get("SIMPLECHAT_CONSOLE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    console.upstream_says(
        "Here is a small example in **Python**:\n\n```python\ndef greet(name):\n"
        '    return f"Hello, {name}!"\n```\n\nCall `greet("Ada")` to get a greeting.'
    )
    username = unique("alice")
    async with console.page() as watched:
        page = watched.page
        await sign_up(watched, username)
        promote_to_admin(console.mongo_uri, console.database, username)
        await send(page, "How do I write a greeting function in Python?")
        await answered(page)
        chat = page.url
        await page.goto(f"{console.base}/ui/#/account/keys")
        await page.get_by_test_id("key-name").fill("Open WebUI")
        await page.get_by_test_id("key-create").click()
        await expect(page.get_by_test_id("key-secret")).to_be_visible()
        pages = {
            "chat": chat,
            "account": f"{console.base}/ui/#/account/usage",
            "admin": f"{console.base}/ui/#/admin/users",
            "admin-usage": f"{console.base}/ui/#/admin/usage",
        }
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(viewport)
            for name, url in pages.items():
                await page.goto(url)
                await page.reload()  # the admin role is read at start
                await page.wait_for_load_state("networkidle")
                if name == "chat":
                    await expect(bubbles(page, "assistant")).to_have_count(1)
                if name == "admin":
                    await page.get_by_test_id("admin-users-search").fill(username)
                    await expect(page.get_by_test_id("admin-users-row")).to_have_count(1)
                    await page.get_by_test_id("admin-users-row").click()
                    await expect(page.get_by_test_id("admin-user-detail")).to_contain_text(
                        "Messages in all"
                    )
                    await page.wait_for_load_state("networkidle")
                overflow = await page.evaluate(
                    "document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 0, f"{name} is wider than a {size} screen by {overflow}px"
                await page.evaluate("window.scrollTo(0, 0)")
                await page.screenshot(path=folder / f"{name}-{size}.png")
        await expect(page.get_by_test_id("nav-admin")).to_be_visible()
