"""How fast an account can be tried: logins per account from new places (beside the per-IP
limit), password checks per user, avatar uploads per user. Slowed down, never locked out: an
attacker's attempts from elsewhere never stop the owner logging in from where they do."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.accounts.test_avatars import photo_jpeg
from tests.accounts.test_router import assert_error
from tests.factories import app_client, make_settings

PASSWORD = "password123"
From = Callable[[str], httpx.AsyncClient]


@pytest.fixture
def throttled(mongo_uri: str, database_name: str, tmp_path: Path) -> Settings:
    return make_settings(
        mongo_uri,
        database_name,
        tmp_path,
        ip_limit="1000/minute",
        login_account_limit="3/hour",
        password_check_limit="2/hour",
        avatar_upload_limit="2/hour",
    )


@pytest.fixture
async def from_address(throttled: Settings) -> AsyncIterator[From]:
    """Clients of one app, each from its own client address."""
    async with app_client(throttled) as first, AsyncExitStack() as stack:
        transport = first._transport
        assert isinstance(transport, httpx.ASGITransport)

        def client(address: str) -> httpx.AsyncClient:
            made = httpx.AsyncClient(
                transport=httpx.ASGITransport(transport.app, client=(address, 40000)),
                base_url="http://testserver",
            )
            stack.push_async_callback(made.aclose)
            return made

        yield client


async def log_in(client: httpx.AsyncClient, password: str, username: str = "eric") -> Any:
    return await client.post("/token", data={"username": username, "password": password})


class TestLoginThrottle:
    async def test_strangers_are_slowed_down_and_the_owner_still_logs_in(
        self, from_address: From
    ) -> None:
        home, attacker, elsewhere = (from_address(a) for a in ("10.0.0.1", "10.6.6.6", "10.7.7.7"))
        await home.post("/user/", json={"username": "eric", "password": PASSWORD})
        # the first login from home counts (home was a new place); home is known from now on
        assert (await log_in(home, PASSWORD)).status_code == 200
        for i in range(2):
            assert_error(await log_in(attacker, f"guess-{i}"), 401, "invalid_credentials")
        refused = await log_in(attacker, "guess-2")
        body = assert_error(refused, 429, "login_limit")
        assert "new places" in str(body["detail"])
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        # even the right password from a new place waits: the window is the account's
        assert_error(await log_in(elsewhere, PASSWORD), 429, "login_limit")
        # but the owner, from where they logged in before, is never locked out
        assert (await log_in(home, PASSWORD)).status_code == 200
        assert_error(await log_in(home, "typo"), 401, "invalid_credentials")
        assert (await log_in(home, PASSWORD)).status_code == 200

    async def test_unknown_accounts_are_throttled_alike(self, from_address: From) -> None:
        """An attacker cannot tell accounts apart by how the throttle answers."""
        attacker = from_address("10.6.6.6")
        await attacker.post("/user/", json={"username": "eric", "password": PASSWORD})
        for username in ("eric", "nobody"):
            statuses = [(await log_in(attacker, "x", username)).status_code for _ in range(4)]
            assert statuses == [401, 401, 401, 429], (username, statuses)

    async def test_a_login_from_a_new_place_is_remembered(self, from_address: From) -> None:
        home, cafe = from_address("10.0.0.1"), from_address("10.0.0.2")
        await home.post("/user/", json={"username": "eric", "password": PASSWORD})
        assert (await log_in(cafe, PASSWORD)).status_code == 200
        for _ in range(5):  # more than the throttle's 3: the café is known now
            assert (await log_in(cafe, PASSWORD)).status_code == 200


class TestPasswordChecks:
    async def test_a_session_cannot_guess_the_password_without_limit(
        self, from_address: From
    ) -> None:
        client = from_address("10.0.0.1")
        await client.post("/user/", json={"username": "eric", "password": PASSWORD})
        token = (await log_in(client, PASSWORD)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        change = {"old_password": "guess", "new_password": "a brand new password"}
        wrong = await client.post("/user/me/password", json=change, headers=headers)
        assert_error(wrong, 401, "invalid_credentials")
        deleting = await client.request(
            "DELETE", "/user/me", json={"password": "guess"}, headers=headers
        )
        assert_error(deleting, 401, "invalid_credentials")
        # both count on one window: the third check is refused before argon2 runs
        refused = await client.post(
            "/user/me/password", json={**change, "old_password": PASSWORD}, headers=headers
        )
        assert_error(refused, 429, "password_limit")
        assert "Retry-After" in refused.headers
        assert (await client.get("/user/me", headers=headers)).status_code == 200


class TestAvatarUploads:
    async def test_uploads_are_limited_per_user(self, from_address: From) -> None:
        client = from_address("10.0.0.1")
        await client.post("/user/", json={"username": "eric", "password": PASSWORD})
        token = (await log_in(client, PASSWORD)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"}
        image = photo_jpeg()
        for _ in range(2):
            ok = await client.put("/user/me/avatar", content=image, headers=headers)
            assert ok.status_code == 200, ok.text
        refused = await client.put("/user/me/avatar", content=image, headers=headers)
        assert_error(refused, 429, "avatar_limit")
        assert int(refused.headers["Retry-After"]) >= 1


class TestDecodingIsBounded:
    async def test_uploads_beyond_the_decoders_room_get_a_readable_503(
        self, mongo_uri: str, database_name: str, tmp_path: Path
    ) -> None:
        """One decoding thread and no queue: of parallel uploads, those that find it busy are
        refused at once (503 with Retry-After), and a login meanwhile does not wait."""
        settings = make_settings(
            mongo_uri,
            database_name,
            tmp_path,
            avatar_upload_limit="1000/hour",
            decode_workers=1,
            decode_queue=0,
        )
        async with app_client(settings) as client:
            await client.post("/user/", json={"username": "eric", "password": PASSWORD})
            token = (await log_in(client, PASSWORD)).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"}
            image = photo_jpeg((4000, 3000))
            uploads = [
                asyncio.create_task(client.put("/user/me/avatar", content=image, headers=headers))
                for _ in range(8)
            ]
            login = await log_in(client, PASSWORD)
            responses = await asyncio.gather(*uploads)
        assert login.status_code == 200
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 503}, statuses
        assert 200 in statuses
        assert 503 in statuses, statuses
        busy = next(r for r in responses if r.status_code == 503)
        assert_error(busy, 503, "server_busy")
        assert busy.headers["Retry-After"] == "1"
