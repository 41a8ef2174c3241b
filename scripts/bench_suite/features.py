"""What each capability on the chat path adds to one message: database round trips, the
app's CPU, the database's CPU and the wall time, against the plain path.

Each variant runs the app in this process (ASGI, the real embedded database, the fake upstream
over HTTP) with the settings and requests that turn one capability on; messages are sent one
after the other, so the CPU this process uses over them (`time.process_time`: the app, pymongo
and the in-process HTTP client alike) divided by the messages is comparable across variants,
and the difference to "plain" is what the capability costs. Round trips are counted by the
same CommandListener as the roundtrips step.

- plain: a free model, credits off, a user's JWT, `SIMPLECHAT_BYOK=off`.
- credits: `SIMPLECHAT_CREDITS=on` and a priced model (hold before the call, settle after).
- api key: the request authenticated by a personal `sk-sc-` key with a daily cap.
- own provider key: `SIMPLECHAT_BYOK=allowed` and the user's own key for the provider stored.
- all: the three together.
"""

import asyncio
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from pymongo import monitoring

from bench_suite.procstat import cpu_ns
from bench_suite.roundtrips import CommandCounter, _settings
from bench_suite.stack import PASSWORD, Service, write_models_file
from simplechat.app import create_app
from simplechat.config import Settings

USERS = 10
WARMUP_MESSAGES = 30  # per user, before measuring (every code path and cache warm)
ROUNDS = 8
BATCH = 40  # messages per variant and round
PRICE = {"input": "0.5", "output": "1.5"}  # credits per 1,000 tokens


@dataclass(frozen=True)
class Variant:
    name: str
    credits: bool = False
    api_key: bool = False
    own_key: bool = False


VARIANTS = (
    Variant("plain"),
    Variant("credits", credits=True),
    Variant("api key", api_key=True),
    Variant("own provider key", own_key=True),
    Variant("all", credits=True, api_key=True, own_key=True),
)


def _variant_settings(base: Settings, variant: Variant, workdir: Path, n: int) -> Settings:
    changes: dict[str, Any] = {
        "mongodb_db": f"bench_features_{n}",  # apart on real MongoDB only
        "byok": "allowed" if variant.own_key else "off",
    }
    if variant.credits:
        changes |= {
            "credits": True,
            "signup_credits": Decimal(1_000_000),
            "models_file": write_models_file(workdir / f"priced-{n}", price=PRICE),
        }
    return base.model_copy(update=changes)


async def _headers(client: httpx.AsyncClient, variant: Variant, n: int) -> dict[str, str]:
    # Names of their own per variant: the embedded server ignores the database name.
    name = variant.name.replace(" ", "-").replace("(", "").replace(")", "")
    credentials = {"username": f"features-{name}-{n}", "password": PASSWORD}
    await client.post("/user/", json=credentials)
    token = (await client.post("/token", data=credentials)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    if variant.own_key:
        put = await client.put(
            "/user/provider-keys/openai", json={"api_key": f"sk-own-{n}"}, headers=headers
        )
        assert put.status_code == 200, put.text
    if variant.api_key:
        made = await client.post(
            "/user/keys", json={"name": "bench", "daily_limit": 1_000_000}, headers=headers
        )
        assert made.status_code in (200, 201), made.text
        headers = {"Authorization": f"Bearer {made.json()['key']}"}
    return headers


@dataclass
class _Running:
    """A variant's app, its client and its users, and what was measured on it so far."""

    variant: Variant
    client: httpx.AsyncClient
    users: list[dict[str, str]]
    commands: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0
    wall: float = 0.0
    db_ns: int = 0
    sent: int = 0

    async def chat(self, n: int) -> None:
        body = {"message": "what does this capability cost?"}
        response = await self.client.post("/llm/message", json=body, headers=self.users[n % USERS])
        assert response.status_code == 200, response.text

    def result(self) -> dict[str, Any]:
        return {
            "variant": self.variant.name,
            "round_trips": sum(self.commands.values()) / self.sent,
            "by_command": {k: v / self.sent for k, v in sorted(self.commands.items())},
            "app_cpu_ms": self.cpu * 1000 / self.sent,
            "db_cpu_ms": self.db_ns / 1e6 / self.sent if self.db_ns else None,
            "wall_ms": self.wall * 1000 / self.sent,
        }


async def _open(stack: AsyncExitStack, settings: Settings, variant: Variant) -> _Running:
    app = create_app(settings)
    manager = await stack.enter_async_context(LifespanManager(app, startup_timeout=30))
    transport = httpx.ASGITransport(manager.app)
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://bench")
    )
    running = _Running(variant, client, [await _headers(client, variant, n) for n in range(USERS)])
    for n in range(WARMUP_MESSAGES * USERS):
        await running.chat(n)
    return running


async def _measure_round(running: _Running, listener: CommandCounter, db_pid: int | None) -> None:
    listener.counts.clear()
    listener.enabled = True
    db_before = cpu_ns(db_pid) if db_pid else 0
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    for n in range(BATCH):
        await running.chat(running.sent + n)
    running.cpu += time.process_time() - cpu_before
    running.wall += time.perf_counter() - wall_before
    running.db_ns += cpu_ns(db_pid) - db_before if db_pid else 0
    listener.enabled = False
    running.commands.update(listener.counts)
    running.sent += BATCH


async def _measure_all(settings: list[Settings], db_pid: int | None) -> list[dict[str, Any]]:
    listener = CommandCounter()  # one for all: pymongo calls every registered listener
    monitoring.register(listener)
    async with AsyncExitStack() as stack:
        running = [await _open(stack, s, v) for s, v in zip(settings, VARIANTS, strict=True)]
        for _ in range(ROUNDS):  # alternating, so drift on a shared machine hits all alike
            for each in running:
                await _measure_round(each, listener, db_pid)
    return [each.result() for each in running]


def run(database_uri: str, upstream: Service, workdir: Path, db_pid: int | None) -> list[Any]:
    """Every variant's app at once, measured in alternating rounds."""
    base = replace_limits(_settings(database_uri, upstream, workdir))
    settings = [_variant_settings(base, v, workdir, n) for n, v in enumerate(VARIANTS)]
    return asyncio.run(_measure_all(settings, db_pid))


def replace_limits(settings: Settings) -> Settings:
    """Limits out of the way for one user sending messages back to back (still counted)."""
    return settings.model_copy(update={"burst_limit": 1000, "burst_window_seconds": 1})


def lines(results: list[dict[str, Any]]) -> list[str]:
    base = results[0]
    out = [
        "",
        "### What each capability adds to a chat message",
        "",
        f"In process, every variant's app open at once, {ROUNDS} alternating rounds of {BATCH} "
        f"`/llm/message` calls one after the other per variant ({USERS} users each, "
        f"{WARMUP_MESSAGES} messages per user before measuring); app CPU is this process's CPU "
        "per message (the app, pymongo and the in-process client alike), so the difference to "
        "plain is the capability's own cost.",
        "",
        "| variant | round trips | Δ | app CPU ms | Δ ms | DB CPU ms | wall ms | Δ ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        db = "n/a" if r["db_cpu_ms"] is None else f"{r['db_cpu_ms']:.2f}"
        out.append(
            f"| {r['variant']} | {r['round_trips']:.1f} | "
            f"{r['round_trips'] - base['round_trips']:+.1f} | {r['app_cpu_ms']:.2f} | "
            f"{r['app_cpu_ms'] - base['app_cpu_ms']:+.2f} | {db} | {r['wall_ms']:.2f} | "
            f"{r['wall_ms'] - base['wall_ms']:+.2f} |"
        )
    out += ["", "Commands per message, by variant:", ""]
    for r in results:
        commands = ", ".join(f"{k} {v:.1f}" for k, v in r["by_command"].items())
        out.append(f"- {r['variant']}: {commands}")
    return out
