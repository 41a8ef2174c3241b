"""The daily media quotas under parallel requests at `simplechat serve --workers 2`, with the
real local engines: exactly the quota is admitted, whichever worker answers."""

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.media.conftest import FIXTURES
from tests.test_serve import serve

PARALLEL = 12
ENGLISH = (FIXTURES / "english.png").read_bytes()
PCM = (FIXTURES / "hello.pcm").read_bytes()


async def parallel_posts(
    base: str, path: str, body: bytes, content_type: str
) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await client.post("/user/", json={"username": "eric", "password": "password123"})
        token = (
            await client.post("/token", data={"username": "eric", "password": "password123"})
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}", "content-type": content_type}
        limits = httpx.Limits(max_connections=PARALLEL)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as parallel:
            responses = await asyncio.gather(
                *(parallel.post(path, content=body, headers=headers) for _ in range(PARALLEL))
            )
            quota = (await parallel.get("/media/quota", headers=headers)).json()
        return [*responses, httpx.Response(200, json=quota)]


def engine_workers(data_dir: Path) -> set[int]:
    """Local engine worker processes of the server whose data directory is `data_dir`."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes()
            environment = (proc / "environ").read_bytes()
        except (OSError, ValueError):
            continue
        marker = f"SIMPLECHAT_DATA_DIR={data_dir}".encode()
        if b"spawn_main" in command and marker in environment.split(b"\0"):
            found.add(int(proc.name))
    return found


def test_picture_and_speech_quotas_hold_across_two_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    env = {
        "SIMPLECHAT_DAILY_PICTURES": "3",
        "SIMPLECHAT_DAILY_SPEECH_SECONDS": "5",
        "SIMPLECHAT_MEDIA_QUEUE_SECONDS": "120",
        # all 12 may land on one worker: room to decode them all (the bound has its own test)
        "SIMPLECHAT_DECODE_QUEUE": "64",
    }
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        *pictures, quota = asyncio.run(parallel_posts(base, "/media/ocr", ENGLISH, "image/png"))
        statuses = [r.status_code for r in pictures]
        assert statuses.count(200) == 3, statuses
        assert statuses.count(429) == PARALLEL - 3, statuses
        assert {r.json()["text"] for r in pictures if r.status_code == 200} == {
            "Speech and pictures to text"
        }
        assert {r.json()["code"] for r in pictures if r.status_code == 429} == {"picture_quota"}
        assert quota.json()["pictures"]["used"] == 3

        *recordings, quota = asyncio.run(parallel_posts(base, "/media/speech", PCM, "audio/pcm"))
        statuses = [r.status_code for r in recordings]
        assert statuses.count(200) == 2, statuses  # 2 x 1.89 s fit in 5 s, a third does not
        assert {r.json()["code"] for r in recordings if r.status_code == 429} == {"speech_quota"}
        assert quota.json()["speech_seconds"]["used"] == 2 * (len(PCM) // 32) / 1000
        workers = engine_workers(tmp_path)
        assert workers  # uvicorn's two workers and each one's engine process
    deadline = time.monotonic() + 10
    while engine_workers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not engine_workers(tmp_path), "engine processes outlived the server"


async def credits_run(base: str) -> tuple[list[httpx.Response], dict[str, object]]:
    """Ten pictures at once from a user whose signup credits pay for three."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await client.post("/user/", json={"username": "ada", "password": "password123"})
        token = (
            await client.post("/token", data={"username": "ada", "password": "password123"})
        ).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        limits = httpx.Limits(max_connections=10)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as parallel:
            responses = await asyncio.gather(
                *(
                    parallel.post(
                        "/media/ocr", content=ENGLISH, headers={**auth, "content-type": "image/png"}
                    )
                    for _ in range(10)
                )
            )
        credits = (await client.get("/user/credits?page_size=50", headers=auth)).json()
        usage = (await client.get("/user/usage", headers=auth)).json()
        return list(responses), {"credits": credits, "usage": usage}


def test_credits_for_three_pictures_pay_for_exactly_three_across_two_workers(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[[media]]\nengine = "rapidocr"\nper_picture = "0.5"\n')
    env = {
        "SIMPLECHAT_CREDITS": "on",
        "SIMPLECHAT_SIGNUP_CREDITS": "1.5",
        "SIMPLECHAT_MODELS_FILE": str(models),
        "SIMPLECHAT_DAILY_PICTURES": "100",
        "SIMPLECHAT_MEDIA_QUEUE_SECONDS": "120",
        "SIMPLECHAT_DECODE_QUEUE": "64",  # as above
    }
    with serve(mongo_uri, database_name, tmp_path, **env) as base:
        responses, seen = asyncio.run(credits_run(base))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 3, statuses
    assert statuses.count(402) == 7, statuses
    refused = next(r.json() for r in responses if r.status_code == 402)
    assert refused["code"] == "insufficient_credits"
    assert refused["needed"] == "0.5000"
    assert {r.json()["cost"] for r in responses if r.status_code == 200} == {"0.5000"}
    credits: Any = seen["credits"]
    assert Decimal(credits["balance"]) == Decimal(credits["on_hold"]) == 0
    ledger = credits["ledger"]["items"]
    assert sum(Decimal(entry["delta"]) for entry in ledger) == 0
    charges = [entry for entry in ledger if entry["kind"] == "charge"]
    assert sorted(entry["reference"] for entry in charges) == sorted(
        r.json()["id"] for r in responses if r.status_code == 200
    )
    assert {(entry["delta"], entry["note"]) for entry in charges} == {
        ("-0.5000", "rapidocr: 1 picture")
    }
    usage: Any = seen["usage"]
    assert [(m["model"], m["replies"], m["cost"]) for m in usage["by_model"]] == [
        ("rapidocr", 3, "1.5000")
    ]


def test_an_upload_over_the_limit_gets_a_413_every_client_reads(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    """30 MB to /media/speech (limit 25 MB): the server reads the rest of the body before it
    answers, so a client that writes all of it before reading (urllib, with Connection: close)
    gets the 413 JSON, not a reset or broken pipe; a keep-alive client's connection goes on."""
    oversize = os.urandom(30 * 1024 * 1024)
    with serve(mongo_uri, database_name, tmp_path) as base:
        httpx.post(f"{base}/user/", json={"username": "eric", "password": "password123"})
        token = httpx.post(
            f"{base}/token", data={"username": "eric", "password": "password123"}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "audio/wav"}
        for attempt in range(3):
            request = urllib.request.Request(f"{base}/media/speech", data=oversize, headers=auth)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=60)
            assert refused.value.code == 413, attempt
            assert json.loads(refused.value.read())["code"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(oversize), 1 << 16):
                yield oversize[start : start + (1 << 16)]

        with httpx.Client(base_url=base, timeout=60) as client:
            for content in (oversize, chunks()):  # with Content-Length, then chunked
                response = client.post("/media/speech", content=content, headers=auth)
                assert response.status_code == 413, response.text
                assert response.json()["code"] == "payload_too_large"
            # the same connection answers the next request
            assert client.get("/media/quota", headers=auth).status_code == 200
