"""The deployment files stay complete: every setting is documented and preset, the Dockerfile
keeps its promises (no Docker engine runs here, so its text is what can be checked)."""

import json
import re
from pathlib import Path

import pytest
import yaml

from simplechat.cli import env_name
from simplechat.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = [env_name(name) for name in Settings.model_fields]


def read(name: str) -> str:
    return (ROOT / name).read_text()


@pytest.mark.parametrize("document", [".env.example", "README.md"])
def test_every_setting_is_documented(document: str) -> None:
    text = read(document)
    missing = [name for name in SETTINGS if name not in text]
    assert missing == [], f"{document} does not mention {missing}"


def test_env_example_only_names_real_settings() -> None:
    known = set(SETTINGS)
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", read(".env.example"), flags=re.M))
    assert named <= known, named - known


def test_spacefile_runs_the_cli_and_presets_every_setting() -> None:
    spacefile = yaml.safe_load(read("Spacefile"))
    assert spacefile["v"] == 0
    [micro] = spacefile["micros"]
    assert micro["primary"] is True
    assert "simplechat serve" in micro["run"]
    assert "$PORT" in micro["run"]
    presets = micro["presets"]["env"]
    assert [preset["name"] for preset in presets] == SETTINGS
    assert all(preset["description"] for preset in presets)
    defaults = {p["name"]: p.get("default") for p in presets}
    assert defaults["SIMPLECHAT_DATA_DIR"].startswith("/tmp")  # the only writable place
    assert defaults["MONGODB_URI"] is None  # must be the user's own
    assert defaults["SIMPLECHAT_JWT_SECRET"] is None
    routes = micro["public_routes"]
    for route in ("/docs", "/redoc", "/openapi.json", "/healthz", "/token", "/user/*", "/llm/*"):
        assert route in routes
    # The web console and every API it calls (simplechat checks its own tokens).
    for route in ("/", "/ui", "/ui/*", "/conversations/*", "/presets", "/tasks/*", "/admin/*"):
        assert route in routes
    assert not any(route.startswith("/metrics") or route == "/*" for route in routes)


def test_dockerfile_is_multi_stage_slim_non_root_and_checks_health() -> None:
    dockerfile = read("Dockerfile")
    assert len(re.findall(r"^FROM ", dockerfile, flags=re.M)) == 2
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    assert "COPY --from=builder" in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert user
    assert user[-1] not in ("root", "0")
    assert 'VOLUME ["/data"]' in dockerfile
    assert "SIMPLECHAT_DATA_DIR=/data" in dockerfile
    assert "MONGODB_URI" in dockerfile
    healthcheck = re.search(r"^HEALTHCHECK .*\n\s+CMD (\[.*\])$", dockerfile, flags=re.M)
    assert healthcheck is not None
    command = json.loads(healthcheck.group(1))
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    compile(command[2], "HEALTHCHECK", "exec")
    cmd = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.M)[-1]
    assert json.loads(cmd) == ["simplechat", "serve", "--host", "0.0.0.0", "--port", "8000"]


def test_dockerignore_keeps_secrets_and_state_out_of_the_image() -> None:
    ignored = read(".dockerignore").split()
    for entry in (".env", ".git", ".venv", ".simplechat"):
        assert entry in ignored


def test_readme_keeps_its_two_commands() -> None:
    readme = read("README.md")
    assert (
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && simplechat serve"
        in readme
    )
    assert 'pip install -e ".[dev]" && scripts/test' in readme
