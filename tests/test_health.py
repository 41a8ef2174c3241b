"""/healthz follows the database: 200 while it answers, 503 when it is gone."""

from pathlib import Path

from simplechat.kit.embedded import EmbeddedMongo
from tests.factories import app_client, make_settings


async def test_healthz_is_503_when_database_stops(tmp_path: Path) -> None:
    server = EmbeddedMongo(tmp_path / "db").start()
    settings = make_settings(server.uri, "health", tmp_path, mongodb_timeout_ms=500)
    try:
        async with app_client(settings) as client:
            assert (await client.get("/healthz")).status_code == 200
            server.stop()
            response = await client.get("/healthz")
            assert response.status_code == 503
            assert response.json()["code"] == "database_unavailable"
    finally:
        server.stop()


async def test_jwt_secret_is_created_once_and_kept(
    tmp_path: Path, mongo_uri: str, database_name: str
) -> None:
    settings = make_settings(mongo_uri, database_name, tmp_path, jwt_secret=None)
    async with app_client(settings) as client:
        await client.post("/user/", json={"username": "eric", "password": "password123"})
        token = (
            await client.post("/token", data={"username": "eric", "password": "password123"})
        ).json()
    secret_file = tmp_path / "jwt_secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    first_secret = secret_file.read_text()
    assert len(first_secret) >= 48
    async with app_client(settings) as client:
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert (await client.get("/user/me", headers=headers)).status_code == 200
    assert secret_file.read_text() == first_secret
