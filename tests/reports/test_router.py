"""The behaviour report through the ASGI app."""

import httpx
import pytest

from tests.factories import SEED, sign_up


class TestReport:
    async def test_report_shows_activity(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await client.post("/llm/message", json={"message": SEED}, headers=auth_headers)
        await client.post(
            "/llm/message/advanced", json={"message": "I had a long day"}, headers=auth_headers
        )
        await client.post("/llm/message", json={"message": "bye"}, headers=auth_headers)
        await client.post("/llm/message", json={"message": "refused"}, headers=auth_headers)
        response = await client.get("/user/report", headers=auth_headers)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["username"] == "eric"
        assert report["totals"] == {
            "messages": 3,
            "replies": 3,
            "plain": 2,
            "advanced": 1,
            "openai": 0,
        }
        assert report["active_days"] == 1
        assert len(report["messages_per_day"]) == 30
        assert report["messages_per_day"][-1]["count"] == 3
        assert sum(report["hour_histogram"]) == 3
        assert len(report["hour_histogram"]) == 24
        assert report["average_message_chars"] == pytest.approx(
            (len(SEED) + len("I had a long day") + 3) / 3, abs=0.1
        )
        assert report["tokens"]["total"] > 0
        assert report["limit_refusals"] == {"burst_limit": 1}
        assert report["first_activity"] <= report["last_activity"]

    async def test_report_is_only_the_callers(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await client.post("/llm/message", json={"message": SEED}, headers=auth_headers)
        other = await sign_up(client, "mallory")
        report = (await client.get("/user/report", headers=other)).json()
        assert report["totals"]["messages"] == 0
        assert report["first_activity"] is None

    @pytest.mark.parametrize("path", ["/user/report?format=svg", "/user/report.svg"])
    async def test_report_as_svg(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str], path: str
    ) -> None:
        await client.post("/llm/message", json={"message": SEED}, headers=auth_headers)
        response = await client.get(path, headers=auth_headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.text.startswith("<svg")
        assert "eric" in response.text
        assert response.text.count("<rect") > 24

    async def test_report_bad_format_is_422(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        response = await client.get("/user/report?format=pdf", headers=auth_headers)
        assert response.status_code == 422

    async def test_openai_messages_count_in_their_own_total(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        body = {"model": "mock", "messages": [{"role": "user", "content": SEED}]}
        await client.post("/v1/chat/completions", json=body, headers=auth_headers)
        report = (await client.get("/user/report", headers=auth_headers)).json()
        assert report["totals"]["messages"] == 1
        assert report["totals"]["openai"] == 1

    async def test_the_chart_says_one_message_not_one_messages(
        self, client: httpx.AsyncClient, auth_headers: dict[str, str]
    ) -> None:
        await client.post("/llm/message", json={"message": SEED}, headers=auth_headers)
        svg = (await client.get("/user/report.svg", headers=auth_headers)).text
        assert "1 message (0 advanced) on 1 day" in svg
