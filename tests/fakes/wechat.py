"""A fake WeChat `jscode2session` on 127.0.0.1 that speaks its real wire (services.md):

    GET /sns/jscode2session?appid=...&secret=...&js_code=...&grant_type=authorization_code

It always answers HTTP 200 with JSON labelled `text/plain` (as WeChat does): `{"openid",
"session_key", "unionid"}`, or `{"errcode", "errmsg"}`.

Login codes it understands:
- "ok-<name>": openid "o-<name>", unionid "u-<name>" (the same name is the same WeChat user)
- "busy": -1 (system busy); "frequent": 45011; "used": 40163; "blocked": 40226
- "garbage": a body that is not JSON; "http500": HTTP 500
- anything else: 40029 (invalid code)
A wrong app id gets 40013 and a wrong secret 40125, as WeChat answers them.

    async with FakeWeChat() as fake:  # settings: wechat_base_url=fake.url
    with fake_wechat_in_thread() as fake:  # the same, for code that is not async

Run it as a script for trying simplechat by hand: `python -m tests.fakes.wechat --port 8765`
(app id `wx-test-app`, secret `wechat-test-secret`).
"""

import argparse
import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from tests.fakes.upstream import FakeUpstream

TEST_APP_ID = "wx-test-app"
TEST_APP_SECRET = "wechat-test-secret"
ERRORS: dict[str, tuple[int, str]] = {
    "busy": (-1, "system error"),
    "frequent": (45011, "api minute-quota reach limit  mustslower  retry next minute"),
    "used": (40163, "code been used"),
    "blocked": (40226, "user is blocked"),
}


class FakeWeChat(FakeUpstream):
    API_PREFIX = ""

    def __init__(self, app_id: str = TEST_APP_ID, app_secret: str = TEST_APP_SECRET) -> None:
        super().__init__(api_key=app_secret)
        self.app_id = app_id
        self.app_secret = app_secret
        self.queries: list[dict[str, str]] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/sns/jscode2session", self.jscode2session)]

    async def jscode2session(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.queries.append(query)
        code = query.get("js_code", "")
        if code == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if code == "garbage":
            return web.Response(text="<html>not json</html>", content_type="text/plain")
        return _text_json(self.answer(query))

    def answer(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if query.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = query.get("js_code", "")
        if code in ERRORS:
            errcode, errmsg = ERRORS[code]
            return {"errcode": errcode, "errmsg": f"{errmsg}, rid: 6b0a1c2d-0e1f2a3b"}
        if code.startswith("ok-") and len(code) > 3:
            name = code.removeprefix("ok-")
            return {
                "openid": f"o-{name}",
                "session_key": f"session-key-of-{name}==",
                "unionid": f"u-{name}",
            }
        return {"errcode": 40029, "errmsg": "invalid code, rid: 6b0a1c2d-0e1f2a3c"}


def _text_json(body: dict[str, Any]) -> web.Response:
    return web.Response(text=json.dumps(body), content_type="text/plain")


@contextmanager
def fake_wechat_in_thread() -> Iterator[FakeWeChat]:
    """The fake on its own event loop in a thread, for tests whose app runs elsewhere."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeWeChat()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake WeChat jscode2session server")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    app = web.Application()
    app.add_routes(FakeWeChat().routes())
    print(
        f"fake WeChat on http://127.0.0.1:{args.port} (app id {TEST_APP_ID}, "
        f"secret {TEST_APP_SECRET}); codes: ok-<name>, busy, frequent, used, blocked"
    )
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
