"""Every number a request may carry has a documented range, and a value outside it is a 422,
never a 500 (a key's max_credits of 2^63 was one: BSON cannot encode it)."""

from typing import Any

import httpx
import pytest

from simplechat.config import Settings
from tests.factories import sign_up_admin

TOO_BIG = 2**63
Schema = dict[str, Any]


def numeric_fields(schema: Schema) -> list[tuple[str, Schema]]:
    """(where, the number's schema) for every integer or number a request can carry: body
    properties (nested too), query, path and form fields."""
    components: dict[str, Schema] = schema["components"]["schemas"]

    def resolve(node: Schema) -> Schema:
        ref = node.get("$ref")
        return components[ref.rsplit("/", 1)[1]] if ref else node

    def number_in(node: Schema) -> Schema | None:
        for option in (node, *node.get("anyOf", [])):
            option = resolve(option)
            if option.get("type") in ("integer", "number"):
                return option
        return None

    found: list[tuple[str, Schema]] = []

    def walk(node: Schema, where: str, seen: frozenset[str]) -> None:
        node = resolve(node)
        for name, prop in node.get("properties", {}).items():
            number = number_in(resolve(prop))
            if number is not None:
                found.append((f"{where}.{name}", number))
                continue
            for option in (resolve(prop), *resolve(prop).get("anyOf", [])):
                option = resolve(option)
                inner = resolve(option.get("items", {})) if "items" in option else option
                key = f"{where}.{name}"
                if inner.get("properties") and key not in seen:
                    walk(inner, key, seen | {key})

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                number = number_in(resolve(parameter.get("schema", {})))
                if number is not None:
                    found.append((f"{label} {parameter['name']}", number))
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema", {}), label, frozenset())
    return found


async def test_every_number_a_request_carries_has_a_documented_range(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    fields = numeric_fields(schema)
    assert len(fields) >= 20, fields
    unbounded = [
        where
        for where, number in fields
        if not ({"minimum", "exclusiveMinimum"} & number.keys())
        or not ({"maximum", "exclusiveMaximum"} & number.keys())
    ]
    assert unbounded == []
    beyond_int64 = [
        where
        for where, number in fields
        if number.get("maximum", number.get("exclusiveMaximum", 0)) >= 2**62
    ]
    assert beyond_int64 == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/user/keys", {"name": "k", "max_credits": TOO_BIG}),
        ("POST", "/user/keys", {"name": "k", "daily_limit": TOO_BIG}),
        ("POST", "/user/keys", {"name": "k", "max_credits": -1}),
        ("PATCH", "/user/keys/{key}", {"max_credits": TOO_BIG}),
        ("PATCH", "/admin/users/eric", {"daily_limit": TOO_BIG}),
        ("PATCH", "/admin/users/eric", {"burst_limit": 0}),
        ("PATCH", "/admin/users/eric", {"speech_seconds_daily": TOO_BIG}),
        ("PATCH", "/admin/users/eric", {"pictures_daily": -1}),
        ("POST", "/v1/chat/completions", {"messages": [], "max_tokens": TOO_BIG}),
        ("POST", "/llm/message", {"message": "hi", "max_tokens": TOO_BIG}),
        ("GET", "/user/history/99999999999999999999999", None),
        ("GET", "/conversations?page=99999999999999999999", None),
    ],
)
async def test_a_number_out_of_range_is_a_422(
    client: httpx.AsyncClient,
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    admin = await sign_up_admin(client, settings, "alice")
    await client.post("/user/", json={"username": "eric", "password": "password123"})
    key = await client.post("/user/keys", json={"name": "k"}, headers=admin)
    response = await client.request(
        method, path.replace("{key}", key.json()["id"]), json=body, headers=admin
    )
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text
