"""`simplechat check-config` (and the workers' shared metrics directory), in process."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import AliasChoices

from simplechat import cli
from simplechat.cli import env_name, main
from simplechat.config import Settings, get_settings
from simplechat.kit import telemetry

OPENROUTER_KEY = "sk-or-v1-0123456789abcdef0123456789abcdef9f3a"
MONGO_PASSWORD = "pa55-w0rd-not-shown"


def setting_variables() -> set[str]:
    """Every environment variable a setting is read from."""
    names = set()
    for name, info in Settings.model_fields.items():
        names.add(f"SIMPLECHAT_{name.upper()}")
        if isinstance(info.validation_alias, AliasChoices):
            names.update(a for a in info.validation_alias.choices if isinstance(a, str))
    return names


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No setting from the machine or a .env file: only what each test sets."""
    monkeypatch.chdir(tmp_path)
    for variable in setting_variables():
        monkeypatch.delenv(variable, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def check_config(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-config"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_defaults_explain_the_embedded_setup(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check_config(capsys)
    assert code == 0
    assert "embedded MongoDB-wire server" in out
    assert str(Path.cwd() / ".simplechat") in out
    assert "MOCK model answers" in out
    assert "default: mistralai/mistral-7b-instruct" in out
    assert "20 messages per user per day" in out
    assert "set OPENROUTER_API_KEY" in out
    for field in Settings.model_fields:
        assert env_name(field) in out, field
    assert "Ready" in out


def test_secrets_are_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    jwt_secret = "jwt-" + "s" * 60
    monkeypatch.setenv("OPENROUTER_API_KEY", OPENROUTER_KEY)
    monkeypatch.setenv("MONGODB_URI", f"mongodb+srv://eric:{MONGO_PASSWORD}@db.example.net/app")
    monkeypatch.setenv("SIMPLECHAT_JWT_SECRET", jwt_secret)
    code, out = check_config(capsys)
    assert code == 0
    for secret in (OPENROUTER_KEY, MONGO_PASSWORD, jwt_secret, "0123456789abcdef"):
        assert secret not in out
    assert "sk-…9f3a" in out
    assert "MongoDB at db.example.net (password hidden)" in out
    assert "mongodb+srv://eric:****@db.example.net/app" in out
    assert "openrouter  configured" in out
    assert "MOCK" not in out


def test_warns_when_instances_would_not_share_tokens(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.internal:27017")
    code, out = check_config(capsys)
    assert code == 0
    assert "Warnings" in out
    assert "SIMPLECHAT_JWT_SECRET is not" in out


def test_warns_about_a_default_model_nobody_serves(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-dashscope-0123456789abcdef")
    code, out = check_config(capsys)
    assert code == 0
    assert "requests without a model get 'qwen-turbo'" in out


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SIMPLECHAT_TIMEZONE", "Mars/Olympus_Mons", "SIMPLECHAT_TIMEZONE: unknown timezone"),
        ("SIMPLECHAT_DAILY_LIMIT", "plenty", "SIMPLECHAT_DAILY_LIMIT: Input should be"),
        ("SIMPLECHAT_RATE_LIMIT_STATUS", "418", "SIMPLECHAT_RATE_LIMIT_STATUS: must be 401 or 429"),
        ("SIMPLECHAT_IP_LIMIT", "lots", "SIMPLECHAT_IP_LIMIT: 'lots' is not a rate"),
        ("SIMPLECHAT_LOG_LEVEL", "loud", "SIMPLECHAT_LOG_LEVEL: 'loud' is not one of"),
        ("SIMPLECHAT_JWT_SECRET", "short", "SIMPLECHAT_JWT_SECRET: must be at least 32"),
    ],
)
def test_invalid_settings_exit_1_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code, out = check_config(capsys)
    assert code == 1
    assert "the configuration is not valid" in out
    assert expected in out
    assert "Traceback" not in out


def test_invalid_models_file_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    models = tmp_path / "models.json"
    models.write_text('[{"name": "llama-local", "provider": "openai"}]')
    monkeypatch.setenv("SIMPLECHAT_MODELS_FILE", str(models))
    code, out = check_config(capsys)
    assert code == 1
    assert "Errors" in out
    assert "upstream_id: Field required" in out
    assert "Not ready" in out


def test_reads_the_dotenv_file(capsys: pytest.CaptureFixture[str]) -> None:
    Path(".env").write_text("SIMPLECHAT_DAILY_LIMIT=7\nSIMPLECHAT_CORS_ORIGINS=https://a.example\n")
    code, out = check_config(capsys)
    assert code == 0
    assert "7 messages per user per day" in out
    assert "CORS origins: https://a.example" in out


def test_workers_share_one_metrics_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # setenv first so that monkeypatch removes what the CLI sets again afterwards
    monkeypatch.setenv(telemetry.MULTIPROC_DIR_ENV, "unset-me")
    monkeypatch.delenv(telemetry.MULTIPROC_DIR_ENV)
    stale = tmp_path / "metrics" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    cli._share_metrics_between_workers(tmp_path)
    assert os.environ[telemetry.MULTIPROC_DIR_ENV] == str((tmp_path / "metrics").resolve())
    assert not stale.exists()


def test_a_chosen_metrics_directory_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(telemetry.MULTIPROC_DIR_ENV, str(tmp_path / "mine"))
    cli._share_metrics_between_workers(tmp_path)
    assert os.environ[telemetry.MULTIPROC_DIR_ENV] == str(tmp_path / "mine")
    assert not (tmp_path / "metrics").exists()


def test_serve_with_an_invalid_setting_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMPLECHAT_BURST_LIMIT", "500")
    get_settings.cache_clear()
    code = main(["serve", "--port", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        "SIMPLECHAT_BURST_LIMIT: Input should be less than or equal to 100 (allowed: 1 to 100)"
        in err
    )
    assert "Traceback" not in err


def test_says_which_media_engines_would_answer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMPLECHAT_SPEECH_ENGINE", "dashscope")
    code, out = check_config(capsys)
    assert code == 0
    assert "  pictures: rapidocr" in out
    assert "  speech: dashscope/paraformer-realtime-v2 (users' own keys only)" in out
    monkeypatch.setenv("SIMPLECHAT_BYOK", "off")
    get_settings.cache_clear()
    code, out = check_config(capsys)
    assert "SIMPLECHAT_SPEECH_ENGINE=dashscope, so set DASHSCOPE_API_KEY" in out


def test_wechat_login_is_described(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = check_config(capsys)
    assert code == 0
    assert "WeChat login: not configured" in out
    assert "SIMPLECHAT_WECHAT_APP_SECRET" in out
    monkeypatch.setenv("SIMPLECHAT_WECHAT_APP_ID", "wx0123")
    get_settings.cache_clear()
    code, out = check_config(capsys)
    assert "Only one of SIMPLECHAT_WECHAT_APP_ID and SIMPLECHAT_WECHAT_APP_SECRET" in out
    monkeypatch.setenv("SIMPLECHAT_WECHAT_APP_SECRET", "a-wechat-secret-value")
    get_settings.cache_clear()
    code, out = check_config(capsys)
    assert "WeChat login: app wx0123, secret set (hidden)" in out
    assert "a-wechat-secret-value" not in out
    assert "refresh tokens 90 days" in out


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("SIMPLECHAT_MAX_UPSTREAM_REQUESTS", "0", "(allowed: 1 to 100000)"),
        ("SIMPLECHAT_READ_TIMEOUT_SECONDS", "0", "(allowed: more than 0, at most 3600)"),
        ("SIMPLECHAT_HISTORY_MAX_ENTRIES", "5000", "(allowed: 1 to 1000)"),
        ("SIMPLECHAT_MONGODB_TIMEOUT_MS", "10", "(allowed: 100 to 600000)"),
    ],
)
def test_an_out_of_range_setting_names_its_range(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    allowed: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code = main(["serve", "--port", "1"])
    [line] = [line for line in capsys.readouterr().err.splitlines() if variable in line]
    assert code == 2
    assert line.endswith(allowed)
