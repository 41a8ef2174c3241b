"""The admin area and the capabilities below it: users' media quotas, and billing's admin
actions in the audit log."""

from typing import Any

import httpx

from simplechat.config import Settings
from tests.accounts.test_router import assert_error
from tests.factories import app_client, sign_up, sign_up_admin


async def test_an_admin_sets_and_clears_a_users_media_quotas(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    admin = await sign_up_admin(client, settings, "alice")
    await sign_up(client, "eric")
    before = (await client.get("/admin/users/eric", headers=admin)).json()["media"]
    assert before["speech_seconds_override"] is None
    assert before["pictures_override"] is None
    assert before["speech_seconds_today"] == before["pictures_today"] == 0

    both = {"speech_seconds_daily": 90, "pictures_daily": 2}
    changed = await client.patch("/admin/users/eric", json=both, headers=admin)
    assert changed.status_code == 200, changed.text
    media = changed.json()["media"]
    assert (media["speech_seconds_daily"], media["pictures_daily"]) == (90, 2)
    assert (media["speech_seconds_override"], media["pictures_override"]) == (90, 2)

    # Naming one leaves the other; null clears it (the server's quota applies again).
    one = await client.patch("/admin/users/eric", json={"pictures_daily": None}, headers=admin)
    media = one.json()["media"]
    assert (media["speech_seconds_override"], media["pictures_override"]) == (90, None)
    assert media["pictures_daily"] == before["pictures_daily"]
    shown = (await client.get("/admin/users/eric", headers=admin)).json()["media"]
    assert shown == media

    bad = await client.patch("/admin/users/eric", json={"pictures_daily": -1}, headers=admin)
    assert_error(bad, 422, "invalid_input")
    log = (await client.get("/admin/audit?page_size=5", headers=admin)).json()["items"]
    updates = [e["details"] for e in log if e["action"] == "user.update"]
    assert updates == [{"pictures_daily": None}, both]


async def test_billing_admin_actions_are_in_the_audit_log(settings: Settings) -> None:
    values = settings.model_dump() | {"credits": True}
    async with app_client(Settings(_env_file=None, **values)) as client:  # type: ignore[call-arg]
        admin = await sign_up_admin(client, settings, "alice")
        eric = await sign_up(client, "eric")
        eric_id = (await client.get("/user/me", headers=eric)).json()["id"]
        body = {"credits": "5", "count": 2, "note": "launch"}
        made = await client.post("/admin/codes", json=body, headers=admin)
        assert made.status_code == 201, made.text
        code = made.json()["codes"][0]["code"]
        assert (await client.delete(f"/admin/codes/{code}", headers=admin)).status_code == 200
        adjust = {"delta": "2.5", "reason": "a gift"}
        path = f"/admin/users/{eric_id}/credits"
        assert (await client.post(path, json=adjust, headers=admin)).status_code == 200
        log = (await client.get("/admin/audit?page_size=10", headers=admin)).json()["items"]
    entries: list[dict[str, Any]] = [e for e in log if e["action"] != "user.create"]
    assert [e["action"] for e in entries] == ["credits.adjust", "code.disable", "codes.create"]
    assert {e["actor"] for e in entries} == {"alice"}
    adjusted, disabled, created = entries
    assert created["details"] == {"count": 2, "credits": "5.0000", "note": "launch"}
    # the audit log shows a code's first symbols and its id, never the code
    assert disabled["details"] == {"code": code[:4] + "-…"}
    assert disabled["target_id"] == made.json()["codes"][0]["id"]
    assert code.replace("-", "") not in str(log)
    assert adjusted["target_id"] == eric_id
    assert (adjusted["details"]["delta"], adjusted["details"]["reason"]) == ("2.5000", "a gift")
