"""A real headless Chromium for tests, driven over the DevTools protocol (CDP) with aiohttp.

The browser gets no network but the loopback: every host name except 127.0.0.1 resolves to
nothing and other traffic goes to a dead proxy, so a page that needs a CDN cannot render. Every
URL the page requests is recorded in `requested_urls`.

    async with Chromium.launch(profile_dir) as browser:
        await browser.navigate("http://127.0.0.1:8000/docs")
        count = await browser.wait_for("document.querySelectorAll('.opblock').length")
"""

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
START_TIMEOUT_SECONDS = 30.0
# Flags that keep Chromium from reaching out (updates, sync, field trials, QUIC) and cut it off
# from every network but the loopback.
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=MediaRouter,OptimizationHints,Translate",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",  # loopback bypasses it; anything else dead-ends
    "--window-size=1280,1600",
)


def find_chromium() -> str | None:
    """The Chromium executable: $SIMPLECHAT_CHROMIUM if it names one, else the first on PATH."""
    configured = os.environ.get("SIMPLECHAT_CHROMIUM")
    if configured:
        return shutil.which(configured)
    return next((path for name in EXECUTABLES if (path := shutil.which(name))), None)


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless Chromium process and a CDP session on its first page."""

    def __init__(self, executable: str, profile_dir: Path) -> None:
        self.executable = executable
        self.profile_dir = profile_dir
        self.requested_urls: list[str] = []
        self.console_errors: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    @classmethod
    def launch(cls, profile_dir: Path) -> Self:
        executable = find_chromium()
        if executable is None:
            raise BrowserError("Chromium is not installed")
        return cls(executable, profile_dir)

    async def __aenter__(self) -> Self:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            self.executable,
            *OFFLINE_FLAGS,
            f"--user-data-dir={self.profile_dir}",
            "--remote-debugging-port=0",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            port = await self._debugging_port()
            self._http = aiohttp.ClientSession()
            async with self._http.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t.get("type") == "page")
            self._ws = await self._http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
            self._reader = asyncio.create_task(self._read())
            for domain in ("Page", "Runtime", "Network"):
                await self.send(f"{domain}.enable")
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _debugging_port(self) -> int:
        """Chromium writes the port it chose into DevToolsActivePort in the profile."""
        port_file = self.profile_dir / "DevToolsActivePort"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECONDS
        while loop.time() < deadline:
            if self._process is not None and self._process.returncode is not None:
                raise BrowserError(f"Chromium exited with code {self._process.returncode}")
            if port_file.exists() and (lines := port_file.read_text().splitlines()):
                return int(lines[0])
            await asyncio.sleep(0.05)
        raise BrowserError("Chromium did not open its DevTools port in time")

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            future = self._pending.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)
            elif data.get("method") == "Network.requestWillBeSent":
                self.requested_urls.append(data["params"]["request"]["url"])
            elif data.get("method") == "Runtime.exceptionThrown":
                self.console_errors.append(json.dumps(data["params"]["exceptionDetails"]))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a CDP method and return its result (BrowserError on a protocol error)."""
        assert self._ws is not None
        message_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        await self._ws.send_str(json.dumps({"id": message_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, timeout=30)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def evaluate(self, expression: str) -> Any:
        """Run JavaScript in the page (awaiting a promise it returns) and return the value."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, *, seconds: float = 20.0) -> Any:
        """Poll `expression` until it is truthy; return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        value: Any = None
        while loop.time() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise BrowserError(f"timed out waiting for {expression!r} (last value {value!r})")

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'")

    async def screenshot(self, path: Path) -> None:
        result = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(result["data"]))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._http is not None:
            await self._http.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), timeout=10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
