"""Request ids, error bodies, /metrics, CORS and logs, through the ASGI app (and one real
two-worker server for the metrics that must add up across processes)."""

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families

from simplechat.config import Settings
from simplechat.kit import telemetry
from simplechat.kit.logs import JsonFormatter, RedactingFilter
from tests.factories import app_client, make_settings, serve, sign_up
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.upstream import TEST_API_KEY

SEED = "hi, my name is Eric"
SERIES = (
    "simplechat_http_requests_total",
    "simplechat_http_request_duration_seconds",
    "simplechat_upstream_requests_total",
    "simplechat_upstream_request_duration_seconds",
    "simplechat_upstream_retries_total",
    "simplechat_limit_refusals_total",
    "simplechat_tokens_total",
)


def with_settings(base: Settings, **overrides: Any) -> Settings:
    values = base.model_dump()
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text page (0 when it has no sample yet)."""
    for family in text_string_to_metric_families(text):
        for series in family.samples:
            if series.name == name and all(series.labels.get(k) == v for k, v in labels.items()):
                return float(series.value)
    return 0.0


async def metrics(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def assert_has_request_id(response: httpx.Response) -> None:
    request_id = response.headers["X-Request-ID"]
    assert response.json()["request_id"] == request_id


class TestRequestId:
    async def test_a_sane_incoming_id_comes_back(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "trace-42.a:b_c"})
        assert response.headers["X-Request-ID"] == "trace-42.a:b_c"

    @pytest.mark.parametrize("incoming", [None, "two words", "x" * 129, "<script>"])
    async def test_otherwise_one_is_made(
        self, client: httpx.AsyncClient, incoming: str | None
    ) -> None:
        headers = {"X-Request-ID": incoming} if incoming else {}
        response = await client.get("/healthz", headers=headers)
        request_id = response.headers["X-Request-ID"]
        assert request_id != incoming
        assert len(request_id) == 32
        int(request_id, 16)

    async def test_every_request_gets_its_own(self, client: httpx.AsyncClient) -> None:
        ids = {(await client.get("/healthz")).headers["X-Request-ID"] for _ in range(3)}
        assert len(ids) == 3


class TestErrorBodies:
    async def test_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/no/such/page", headers={"X-Request-ID": "abc-404"})
        assert response.status_code == 404
        assert response.json()["request_id"] == "abc-404"

    async def test_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/user/", json={"username": "eric"})
        assert response.status_code == 422
        assert_has_request_id(response)

    async def test_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/user/me")
        assert response.status_code == 401
        assert_has_request_id(response)
        wrong = await client.post("/token", data={"username": "eric", "password": "nope-nope"})
        assert wrong.status_code == 401
        assert_has_request_id(wrong)

    async def test_413(self, settings: Settings) -> None:
        async with app_client(with_settings(settings, max_body_bytes=100)) as client:
            response = await client.post("/user/", json={"username": "e" * 200, "password": "x"})
        assert response.status_code == 413
        assert_has_request_id(response)

    async def test_429_per_ip(self, settings: Settings) -> None:
        async with app_client(with_settings(settings, ip_limit="1/minute")) as client:
            await client.post("/token", data={"username": "eric", "password": "password123"})
            response = await client.post("/token", data={"username": "e", "password": "p"})
            text = await metrics(client)
        assert response.status_code == 429
        assert_has_request_id(response)
        assert sample(text, "simplechat_limit_refusals_total", limit="ip_limit") >= 1

    async def test_500_from_an_unexpected_error(self, settings: Settings) -> None:
        wrapper = app_client(settings)

        async def boom() -> None:
            raise RuntimeError("kaboom")

        wrapper.app.add_api_route("/boom", boom)
        async with LifespanManager(wrapper.app, startup_timeout=30) as manager:
            transport = httpx.ASGITransport(manager.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/boom")
        assert response.status_code == 500
        assert response.json()["code"] == "internal_error"
        assert_has_request_id(response)
        assert "kaboom" not in response.text


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    async with FakeOpenRouter() as fake:
        yield fake


class TestMetrics:
    async def test_every_series_is_exposed(self, client: httpx.AsyncClient) -> None:
        text = await metrics(client)
        for name in SERIES:
            assert f"# HELP {name.removesuffix('_total')}" in text, name

    async def test_requests_are_counted_by_route_template(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        labels = {"method": "GET", "route": "/user/history/{last_n}", "status": "200"}
        before = await metrics(client)
        for n in (1, 2, 3):
            await client.get(f"/user/history/{n}", headers=auth_headers)
        await client.get("/not-a-route")
        after = await metrics(client)
        name = "simplechat_http_requests_total"
        assert sample(after, name, **labels) - sample(before, name, **labels) == 3
        unmatched = {"route": "<unmatched>", "status": "404"}
        assert sample(after, name, **unmatched) - sample(before, name, **unmatched) == 1
        latency = "simplechat_http_request_duration_seconds_count"
        route = {"route": "/user/history/{last_n}"}
        assert sample(after, latency, **route) - sample(before, latency, **route) == 3
        assert "/user/history/1" not in after  # raw paths never become labels

    async def test_upstream_calls_and_limit_refusals(
        self, settings: Settings, openrouter: FakeOpenRouter
    ) -> None:
        configured = with_settings(
            settings,
            openrouter_api_key=TEST_API_KEY,
            openrouter_base_url=openrouter.base_url,
            upstream_backoff_seconds=0.01,
            burst_limit=2,
        )
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric")
            before = await metrics(client)
            ok = await client.post("/llm/message", json={"message": SEED}, headers=headers)
            openrouter.fail_next("status", status=503, times=3)
            failed = await client.post("/llm/message", json={"message": SEED}, headers=headers)
            await client.post("/llm/message", json={"message": SEED}, headers=headers)
            refused = await client.post("/llm/message", json={"message": SEED}, headers=headers)
            after = await metrics(client)
        assert ok.status_code == 200
        assert failed.status_code == 503
        assert refused.json()["code"] == "burst_limit"

        def moved(name: str, **labels: str) -> float:
            return sample(after, name, **labels) - sample(before, name, **labels)

        calls = "simplechat_upstream_requests_total"
        assert moved(calls, provider="openrouter", outcome="ok") == 2
        assert moved(calls, provider="openrouter", outcome="upstream_unavailable") == 1
        assert moved("simplechat_upstream_retries_total", provider="openrouter") == 2
        assert moved("simplechat_upstream_request_duration_seconds_count", provider="openrouter")
        assert moved("simplechat_limit_refusals_total", limit="burst_limit") == 1

    async def test_tokens(self, client: httpx.AsyncClient) -> None:
        before = await metrics(client)
        telemetry.record_tokens("qwen-plus", prompt=120, completion=30)
        after = await metrics(client)
        name = "simplechat_tokens_total"
        for kind, count in (("prompt", 120), ("completion", 30)):
            labels = {"model": "qwen-plus", "kind": kind}
            assert sample(after, name, **labels) - sample(before, name, **labels) == count

    async def test_metrics_can_be_turned_off(self, settings: Settings) -> None:
        async with app_client(with_settings(settings, metrics_enabled=False)) as client:
            assert (await client.get("/metrics")).status_code == 404

    async def test_a_metrics_token_closes_them(self, settings: Settings) -> None:
        token = "scrape-" + "x" * 32
        async with app_client(with_settings(settings, metrics_token=token)) as client:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
                refused = await client.get("/metrics", headers=headers)
                assert refused.status_code == 401, headers
                assert refused.json()["code"] == "not_authenticated"
                assert refused.headers["WWW-Authenticate"] == "Bearer"
            allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert allowed.status_code == 200
            assert "simplechat_http_requests_total" in allowed.text


def test_two_workers_report_the_same_totals(
    mongo_uri: str, database_name: str, tmp_path: Path
) -> None:
    """`serve --workers 2` shares counts through Prometheus' multiprocess mode: whichever
    worker answers, /metrics adds up both."""
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    name = "simplechat_http_requests_total"
    with serve(mongo_uri, database_name, tmp_path) as base, httpx.Client(base_url=base) as http:
        before = sample(http.get("/metrics").text, name, **labels)
        for _ in range(10):
            assert http.get("/healthz").status_code == 200
        scrapes = [sample(http.get("/metrics").text, name, **labels) for _ in range(4)]
    assert scrapes == [before + 10] * 4
    assert list((tmp_path / "metrics").glob("*.db"))


class TestCors:
    ORIGIN = "https://chat.example"

    @pytest.fixture
    async def cors_client(self, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
        async with app_client(with_settings(settings, cors_origins=[self.ORIGIN])) as client:
            yield client

    async def test_preflight_allows_the_configured_origin(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        response = await cors_client.options(
            "/llm/message",
            headers={
                "Origin": self.ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == self.ORIGIN
        assert "authorization" in response.headers["access-control-allow-headers"].lower()

    async def test_responses_expose_the_request_id(self, cors_client: httpx.AsyncClient) -> None:
        response = await cors_client.get("/healthz", headers={"Origin": self.ORIGIN})
        assert response.headers["access-control-allow-origin"] == self.ORIGIN
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()

    async def test_other_origins_get_no_cors_headers(self, cors_client: httpx.AsyncClient) -> None:
        response = await cors_client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers

    async def test_comma_separated_origins_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch, mongo_uri: str, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("SIMPLECHAT_CORS_ORIGINS", "https://a.example, http://localhost:5173")
        settings = make_settings(mongo_uri, "unused", tmp_path)
        assert settings.cors_origins == ["https://a.example", "http://localhost:5173"]


class TestLogs:
    async def test_nothing_secret_reaches_the_logs(
        self,
        settings: Settings,
        openrouter: FakeOpenRouter,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="simplechat")
        secret_text = "my bank PIN is zq7x-walrus, please remember it"
        configured = with_settings(
            settings, openrouter_api_key=TEST_API_KEY, openrouter_base_url=openrouter.base_url
        )
        async with app_client(configured) as client:
            headers = await sign_up(client, "eric", password="hunter2-hunter2")
            await client.post("/llm/message", json={"message": secret_text}, headers=headers)
            openrouter.fail_next("status", status=401)
            await client.post("/llm/message", json={"message": secret_text}, headers=headers)
            await client.get("/user/me", headers=headers)
        logged = caplog.text + " ".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
        token = headers["Authorization"].removeprefix("Bearer ")
        for secret in (secret_text, "zq7x-walrus", token, TEST_API_KEY, "hunter2-hunter2"):
            assert secret not in logged
        access = [r for r in caplog.records if r.name == "simplechat.access"]
        assert {getattr(r, "route", None) for r in access} >= {"/llm/message", "/user/me"}
        assert all(len(getattr(r, "request_id", "")) == 32 for r in access)

    def test_json_lines_carry_the_request_id_and_extra_fields(self) -> None:
        record = logging.LogRecord("simplechat.access", logging.INFO, "", 0, "done", None, None)
        record.route = "/user/me"
        token = telemetry.bind_request_id("req-1")
        try:
            RedactingFilter().filter(record)
        finally:
            telemetry.unbind_request_id(token)
        line = json.loads(JsonFormatter().format(record))
        assert line["request_id"] == "req-1"
        assert line["route"] == "/user/me"
        assert line["level"] == "info"
        assert line["message"] == "done"

    @pytest.mark.parametrize(
        ("message", "secret"),
        [
            ("sent Authorization: Bearer abc.def-123", "abc.def-123"),
            ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJlcmljIn0.sig", "eyJzdWIiOiJlcmljIn0"),
            ("key=sk-or-v1-0123456789abcdef", "0123456789abcdef"),
            ("uri=mongodb+srv://eric:s3cret@cluster0.example.net/db", "s3cret"),
        ],
    )
    def test_credentials_are_masked(self, message: str, secret: str) -> None:
        record = logging.LogRecord("simplechat", logging.WARNING, "", 0, "%s", (message,), None)
        RedactingFilter().filter(record)
        assert secret not in record.getMessage()
        assert secret not in JsonFormatter().format(record)
