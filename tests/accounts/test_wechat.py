"""WeChat mini-program login against the fake WeChat server (its real wire: HTTP 200, JSON
labelled text/plain, errcode/errmsg)."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from simplechat.config import Settings
from tests.accounts.test_router import assert_error
from tests.factories import app_client, free_port, sign_up_admin
from tests.fakes.wechat import TEST_APP_ID, TEST_APP_SECRET, FakeWeChat


def wechat_settings(base: Settings, **overrides: Any) -> Settings:
    values = base.model_dump()
    values.update(wechat_app_id=TEST_APP_ID, wechat_app_secret=TEST_APP_SECRET)
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def wechat() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat() as fake:
        yield fake


@pytest.fixture
async def client(settings: Settings, wechat: FakeWeChat) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(wechat_settings(settings, wechat_base_url=wechat.url)) as http:
        yield http


async def wechat_login(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await client.post("/token/wechat", json={"code": code})


async def me(client: httpx.AsyncClient, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    answer = await client.get("/user/me", headers={"Authorization": f"Bearer {token}"})
    body: dict[str, Any] = answer.json()
    return body


def users_with_openid(settings: Settings, openid: str) -> int:
    assert settings.mongodb_uri is not None
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri.get_secret_value())
    try:
        return mongo[settings.mongodb_db].users.count_documents({"wechat_openid": openid})
    finally:
        mongo.close()


class TestLogin:
    async def test_first_login_creates_the_user_and_the_next_finds_them(
        self, client: httpx.AsyncClient, wechat: FakeWeChat, settings: Settings
    ) -> None:
        first = await wechat_login(client, "ok-mei")
        body = first.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
        user = await me(client, first)
        assert user["username"].startswith("wx_")
        assert user["role"] == "user"
        assert user["level"] == 1
        again = await me(client, await wechat_login(client, "ok-mei"))
        assert again["id"] == user["id"]
        other = await me(client, await wechat_login(client, "ok-lin"))
        assert other["id"] != user["id"]
        assert users_with_openid(settings, "o-mei") == 1
        sent = wechat.queries[0]
        assert sent == {
            "appid": TEST_APP_ID,
            "secret": TEST_APP_SECRET,
            "js_code": "ok-mei",
            "grant_type": "authorization_code",
        }

    async def test_parallel_first_logins_make_one_user(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        responses = await asyncio.gather(*(wechat_login(client, "ok-twin") for _ in range(8)))
        ids = {(await me(client, response))["id"] for response in responses}
        assert len(ids) == 1
        assert users_with_openid(settings, "o-twin") == 1

    async def test_the_refresh_token_works(self, client: httpx.AsyncClient) -> None:
        pair = (await wechat_login(client, "ok-mei")).json()
        refreshed = await client.post(
            "/token/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status_code == 200

    async def test_a_wechat_user_may_set_a_password_and_then_log_in_with_it(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await wechat_login(client, "ok-mei")
        user = await me(client, response)
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        no_password = await client.post(
            "/token", data={"username": user["username"], "password": "anything at all"}
        )
        assert_error(no_password, 401, "invalid_credentials")
        delete = await client.request(
            "DELETE", "/user/me", json={"password": "anything at all"}, headers=headers
        )
        assert_error(delete, 409, "no_password")
        set_one = await client.post(
            "/user/me/password", json={"new_password": "my first password"}, headers=headers
        )
        assert set_one.status_code == 200, set_one.text
        login = await client.post(
            "/token", data={"username": user["username"], "password": "my first password"}
        )
        assert login.status_code == 200

    async def test_a_disabled_wechat_user_is_refused(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        user = await me(client, await wechat_login(client, "ok-mei"))
        admin = await sign_up_admin(client, settings, "alice")
        await client.patch(
            f"/admin/users/{user['username']}", json={"disabled": True}, headers=admin
        )
        assert_error(await wechat_login(client, "ok-mei"), 401, "not_authenticated")


class TestWeChatErrors:
    @pytest.mark.parametrize(
        ("code", "status", "error_code"),
        [
            ("invalid-code", 401, "wechat_code_invalid"),
            ("used", 401, "wechat_code_invalid"),
            ("busy", 503, "wechat_busy"),
            ("frequent", 429, "wechat_rate_limit"),
            ("blocked", 502, "wechat_error"),
            ("garbage", 502, "wechat_bad_response"),
            ("http500", 502, "wechat_bad_response"),
        ],
    )
    async def test_each_answer_maps_to_a_clear_error(
        self, client: httpx.AsyncClient, code: str, status: int, error_code: str
    ) -> None:
        response = await wechat_login(client, code)
        body = assert_error(response, status, error_code)
        assert TEST_APP_SECRET not in response.text
        if status in (429, 503):
            assert int(response.headers["Retry-After"]) >= 1
        if code == "blocked":
            assert body["errcode"] == 40226

    async def test_a_wrong_secret_is_a_502_that_does_not_show_it(
        self, settings: Settings, wechat: FakeWeChat
    ) -> None:
        wrong = wechat_settings(
            settings, wechat_base_url=wechat.url, wechat_app_secret="not-the-secret"
        )
        async with app_client(wrong) as http:
            response = await wechat_login(http, "ok-mei")
        body = assert_error(response, 502, "wechat_error")
        assert body["errcode"] == 40125
        assert "not-the-secret" not in response.text

    async def test_unreachable_wechat_is_503(self, settings: Settings) -> None:
        closed = wechat_settings(settings, wechat_base_url=f"http://127.0.0.1:{free_port()}")
        async with app_client(closed) as http:
            assert_error(await wechat_login(http, "ok-mei"), 503, "upstream_unavailable")

    async def test_not_configured_says_what_to_set(self, settings: Settings) -> None:
        async with app_client(settings) as http:
            body = assert_error(await wechat_login(http, "ok-mei"), 503, "wechat_not_configured")
        assert "SIMPLECHAT_WECHAT_APP_ID" in str(body["detail"])
        assert "SIMPLECHAT_WECHAT_APP_SECRET" in str(body["detail"])

    async def test_bad_bodies_are_422(self, client: httpx.AsyncClient) -> None:
        assert_error(await client.post("/token/wechat", json={}), 422, "invalid_input")
        assert_error(await client.post("/token/wechat", json={"code": ""}), 422, "invalid_input")


async def test_the_secret_and_session_key_are_never_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for code in ("ok-mei", "blocked", "garbage", "busy"):
        response = await wechat_login(client, code)
        assert "session-key-of" not in response.text
    text = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert TEST_APP_SECRET not in text
    assert "session-key-of" not in text
