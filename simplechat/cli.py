"""The `simplechat` command: `serve` the API, `check-config` to see what it would run with, and
`admin create|promote|demote USERNAME` (see cli_admin.py).

`serve` exits 0 when it was stopped, 2 when the configuration is invalid (a setting, the models
file, the default model: one line per problem, no traceback) and 3 when it could not start (the
database did not answer, the port is taken, a worker failed to start), so a supervisor sees a
failed start as a failure, also with `--workers N`.
"""

import argparse
import asyncio
import logging
import logging.config
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from annotated_types import Ge, Gt, Le, Lt
from pydantic import AliasChoices, SecretStr, ValidationError

from simplechat import __version__
from simplechat.cli_admin import add_admin_commands, run_admin
from simplechat.config import Settings, get_settings
from simplechat.kit import serving, telemetry
from simplechat.kit.db import unreachable
from simplechat.kit.embedded import (
    DB_FILE_NAME,
    EmbeddedMongo,
    EmbeddedServerError,
    attach_or_start,
    stop_started,
)
from simplechat.kit.logs import logging_config, resolve_format
from simplechat.kit.secrets import (
    FERNET_KEY_FILE_NAME,
    SECRET_FILE_NAME,
    load_or_create_fernet_key,
    load_or_create_secret,
    mask_secret,
    mask_url,
    url_has_password,
)
from simplechat.llm.catalog import load_catalog
from simplechat.llm.media_engines import Unavailable, build_media_engines
from simplechat.llm.ocr.base import OcrEngine
from simplechat.llm.registry import build_registry, make_http_session
from simplechat.llm.speech.base import SpeechEngine
from simplechat.llm.vendors import VENDORS

log = logging.getLogger("simplechat")

METRICS_DIR_NAME = "metrics"
SHOWN_VALUE_CHARS = 60
NAME_COLUMN_CHARS = 44
# OPENAI_BASE_URL and OPENAI_API_KEY work too, but other OpenAI tools use them: documented prefixed.
PREFIXED_ALIASES = ("openai_",)
_URL_HOSTS = re.compile(r"://(?:[^@/\s]*@)?(?P<hosts>[^/?\s]+)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simplechat", description="A lightweight chat API.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    commands.add_parser(
        "check-config",
        help="print the effective configuration (secrets masked) and what is missing",
    )
    add_admin_commands(commands)
    return parser


EXIT_INVALID_CONFIG = 2


class _CannotStart(Exception):
    """A start-up problem, said in one line; `status` is what `serve` exits with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def serve(host: str, port: int, workers: int) -> int:
    """Run the API until stopped; see the module docstring for the exit statuses."""
    try:
        settings = get_settings()
    except ValidationError as exc:  # one line per problem, no traceback
        _print_validation_error(exc, sys.stderr)
        return EXIT_INVALID_CONFIG
    log_config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(log_config)
    try:
        _check_models(settings)
        embedded = _prepare_database(settings)
    except _CannotStart as problem:
        print(f"simplechat: {problem}", file=sys.stderr)
        return problem.status
    serving.raise_open_file_limit()
    if settings.jwt_secret is None:
        load_or_create_secret(settings.data_dir)  # created once, before workers race for it
    if settings.secrets_key is None:
        load_or_create_fernet_key(settings.data_dir)
    if workers > 1:
        _share_metrics_between_workers(settings.data_dir)
    try:
        served = serving.run(
            "simplechat.app:create_app",
            workers=workers,
            host=host,
            port=port,
            log_level=settings.log_level,
            log_config=log_config,
            access_log=False,  # simplechat.access logs each request, with its request id
        )
    finally:
        if embedded is not None:
            stop_started(embedded)
    if not served:
        print("simplechat: the server did not start (see the log above).", file=sys.stderr)
        return serving.EXIT_STARTUP_FAILURE
    return 0


def _check_models(settings: Settings) -> None:
    """What every worker would fail on, checked once here: the models file, the default."""
    try:
        _quietly(lambda: asyncio.run(_registry_facts(settings)))
    except ValueError as exc:
        raise _CannotStart(str(exc), EXIT_INVALID_CONFIG) from None


def _prepare_database(settings: Settings) -> EmbeddedMongo | None:
    """Check that MONGODB_URI answers, or start the embedded database (returned) that every
    worker attaches to, supervised (started again should it die) from this process."""
    if settings.mongodb_uri is None:
        try:
            return attach_or_start(settings.data_dir)[1]
        except EmbeddedServerError as exc:
            raise _CannotStart(str(exc), serving.EXIT_STARTUP_FAILURE) from None
    uri = settings.mongodb_uri.get_secret_value()
    try:
        problem = asyncio.run(unreachable(uri, settings.mongodb_timeout_ms))
    except ValueError as exc:  # malformed
        raise _CannotStart(str(exc), EXIT_INVALID_CONFIG) from None
    if problem:
        raise _CannotStart(f"{problem}; check MONGODB_URI.", serving.EXIT_STARTUP_FAILURE)
    return None


def _quietly(check: Callable[[], object]) -> None:
    """Run a start-up check without its info lines (each worker logs them again)."""
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        check()
    finally:
        logging.disable(previous)


def _share_metrics_between_workers(data_dir: Path) -> None:
    """Prometheus multiprocess mode: workers (started fresh, not forked) write their counts to
    files in one directory, and whichever worker answers /metrics adds them all up. A directory
    the user chose is left as it is; ours is emptied, since old files would add stale counts."""
    if os.environ.get(telemetry.MULTIPROC_DIR_ENV):
        return
    directory = (data_dir / METRICS_DIR_NAME).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[telemetry.MULTIPROC_DIR_ENV] = str(directory)
    log.info("simplechat.metrics multiprocess_dir=%s", directory)


# --- check-config ---


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def env_name(field_name: str) -> str:
    """The environment variable the docs give for a setting: the ecosystem's name where there is
    one (MONGODB_URI, OPENROUTER_API_KEY...), else SIMPLECHAT_<NAME>."""
    alias = Settings.model_fields[field_name].validation_alias
    prefixed = f"SIMPLECHAT_{field_name.upper()}"
    if isinstance(alias, AliasChoices) and not field_name.startswith(PREFIXED_ALIASES):
        first = alias.choices[0]
        return first if isinstance(first, str) else prefixed
    return prefixed


def shown_value(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        if name == "mongodb_uri":
            return mask_url(value.get_secret_value())
        hidden = name in ("jwt_secret", "secrets_key")
        return "set (hidden)" if hidden else mask_secret(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    text = mask_url(str(value)).replace("\n", " ")
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "…"


def _writable(path: Path) -> bool:
    probe = path.resolve()
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)


def _database(settings: Settings, out: list[str], findings: Findings) -> None:
    data_dir = settings.data_dir.resolve()
    if settings.mongodb_uri is None:
        out.append(f"  embedded MongoDB-wire server (nx-27017), file {data_dir / DB_FILE_NAME}")
        findings.notes.append(
            "The embedded database suits one machine. Several instances or a serverless "
            "platform need a shared MongoDB: set MONGODB_URI."
        )
    else:
        uri = settings.mongodb_uri.get_secret_value()
        match = _URL_HOSTS.search(uri)
        hosts = match.group("hosts") if match else "?"
        password = "password hidden" if url_has_password(uri) else "no password in the URI"
        out.append(f"  MongoDB at {hosts} ({password}), database {settings.mongodb_db!r}")
    needs_dir = settings.mongodb_uri is None or settings.jwt_secret is None
    if needs_dir and not _writable(settings.data_dir):
        findings.errors.append(f"The data directory {data_dir} is not writable.")


def _secrets_key(settings: Settings, out: list[str], findings: Findings) -> None:
    """The key that encrypts users' own provider keys, and how they are used."""
    if settings.secrets_key is not None:
        out.append(f"  provider-key encryption key: set (hidden); BYOK {settings.byok}")
        return
    key_file = settings.data_dir.resolve() / FERNET_KEY_FILE_NAME
    state = "exists" if key_file.exists() else "created at first start"
    out.append(
        f"  provider-key encryption key: generated, kept in {key_file} ({state}); "
        f"BYOK {settings.byok}"
    )
    if settings.mongodb_uri is not None and settings.byok != "off":
        findings.warnings.append(
            "MONGODB_URI is set but SIMPLECHAT_SECRETS_KEY is not: users' own provider keys "
            "stored by one instance cannot be read by another. Set SIMPLECHAT_SECRETS_KEY to "
            "the same Fernet key everywhere."
        )


def _auth(settings: Settings, out: list[str], findings: Findings) -> None:
    if settings.jwt_secret is None:
        secret_file = settings.data_dir.resolve() / SECRET_FILE_NAME
        state = "exists" if secret_file.exists() else "created at first start"
        out.append(f"  JWT secret: generated, kept in {secret_file} ({state})")
        if settings.mongodb_uri is not None:
            findings.warnings.append(
                "MONGODB_URI is set but SIMPLECHAT_JWT_SECRET is not: each instance generates "
                "its own secret in its data directory, so with several instances (or a "
                "serverless platform) a token from one is refused by another. Set "
                "SIMPLECHAT_JWT_SECRET to the same strong value everywhere, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
    else:
        out.append("  JWT secret: set (hidden)")
    _secrets_key(settings, out, findings)
    out.append(
        f"  access tokens last {settings.jwt_expire_minutes} minutes, refresh tokens "
        f"{settings.refresh_token_days} days; {settings.password_hash_concurrency} password "
        "hashes at a time per worker"
    )
    _wechat(settings, out, findings)


def _wechat(settings: Settings, out: list[str], findings: Findings) -> None:
    if settings.wechat_app_id and settings.wechat_app_secret:
        out.append(
            f"  WeChat login: app {settings.wechat_app_id}, secret set (hidden), "
            f"{settings.wechat_base_url}"
        )
        return
    out.append(
        "  WeChat login: not configured (POST /token/wechat answers 503): set "
        "SIMPLECHAT_WECHAT_APP_ID and SIMPLECHAT_WECHAT_APP_SECRET"
    )
    if settings.wechat_app_id or settings.wechat_app_secret:
        findings.warnings.append(
            "Only one of SIMPLECHAT_WECHAT_APP_ID and SIMPLECHAT_WECHAT_APP_SECRET is set: "
            "WeChat login needs both."
        )


async def _registry_facts(settings: Settings) -> tuple[bool, str, list[tuple[str, str]]]:
    """Build the server's real provider registry (no request is sent) and read it."""
    async with make_http_session(settings) as session:
        registry = build_registry(settings, session)
        try:
            models = [(m.name, m.provider) for m in registry.models()]
            return registry.using_mock, registry.default_model, models
        finally:
            await registry.aclose()


def _providers(settings: Settings, out: list[str], findings: Findings) -> None:
    for vendor in VENDORS:
        state = "configured" if vendor.configured(settings) else "not configured"
        out.append(f"  {vendor.name:<11} {state}: {vendor.describe(settings)}")
    if settings.openai_api_key and not settings.openai_base_url:
        findings.warnings.append(
            "SIMPLECHAT_OPENAI_API_KEY is set but SIMPLECHAT_OPENAI_BASE_URL is not: it is unused."
        )
    try:
        load_catalog(settings.models_file)
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # the registry's own warnings are reported below
        try:
            using_mock, default, models = asyncio.run(_registry_facts(settings))
        finally:
            logging.disable(previous)
    except ValueError as exc:
        findings.errors.append(str(exc))
        return
    if using_mock:
        out.append("  -> no provider is configured: the built-in MOCK model answers ([mock] ...)")
        findings.notes.append(
            "No provider is configured, so replies come from the mock. Set OPENROUTER_API_KEY, "
            "DASHSCOPE_API_KEY or SIMPLECHAT_OPENAI_BASE_URL for real answers."
        )
    out.append(f"Models ({len(models)} available)")
    out.append(f"  default: {default}")
    out.append("  " + ", ".join(name for name, _ in models))
    if default != settings.default_model:
        findings.warnings.append(
            f"The default model {settings.default_model!r} needs a provider that is not "
            f"configured; requests without a model get {default!r}."
        )
    served = {provider for _, provider in models}
    if settings.openai_base_url and "openai" not in served:
        findings.warnings.append(
            "SIMPLECHAT_OPENAI_BASE_URL is set but no model uses provider 'openai': add one "
            "in SIMPLECHAT_MODELS_FILE."
        )


async def _media_engines(settings: Settings) -> tuple[str, str]:
    """The speech and picture engines the server would use (nothing is loaded or sent)."""
    async with make_http_session(settings) as session:
        engines = build_media_engines(settings, session)

        def described(engine: SpeechEngine | OcrEngine | Unavailable) -> str:
            if isinstance(engine, Unavailable):
                return f"none: {engine.reason}"
            if engine.vendor is None or engines.has_server_key(engine.vendor):
                return engine.name
            return f"{engine.name} (users' own keys only)"

        return described(engines.speech), described(engines.ocr)


def _media(settings: Settings, out: list[str], findings: Findings) -> None:
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        speech, ocr = asyncio.run(_media_engines(settings))
    finally:
        logging.disable(previous)
    out.append("Speech and pictures")
    out.append(f"  speech: {speech}")
    out.append(f"  pictures: {ocr}")
    out.append(
        f"  {settings.daily_speech_seconds} s of speech and {settings.daily_pictures} pictures "
        f"per user per day; uploads up to {settings.media_max_bytes} bytes"
    )
    for kind, chosen in (("speech", speech), ("pictures", ocr)):
        if chosen.startswith("none"):
            findings.notes.append(f"No {kind} engine: {chosen.removeprefix('none: ')}")


def _limits_and_edge(settings: Settings, out: list[str], findings: Findings) -> None:
    out.append("Limits")
    out.append(
        f"  {settings.daily_limit} messages per user per day ({settings.timezone}), "
        f"{settings.burst_limit} in any {settings.burst_window_seconds} s; refusals answer "
        f"{settings.rate_limit_status}"
    )
    out.append(
        f"  per IP: {settings.ip_limit} on POST /token, /token/wechat and /user/ "
        "(shared by every worker, in the database)"
    )
    out.append(
        f"  provider requests: {settings.max_upstream_requests} open at once per worker, "
        "streams included; one more gets 503 upstream_capacity"
    )
    credits = (
        f"on: {settings.signup_credits} for each account, holds released after "
        f"{settings.hold_timeout_seconds} s, {settings.redeem_attempts} failed redeems per "
        f"{settings.redeem_window_seconds} s per user and {settings.redeem_ip_limit} per IP"
        if settings.credits
        else "off (SIMPLECHAT_CREDITS=on turns them on)"
    )
    out.append(f"  credits: {credits}")
    out.append(f"  request bodies up to {settings.max_body_bytes} bytes")
    out.append("HTTP")
    origins = ", ".join(settings.cors_origins) or "none (only same-origin browser pages)"
    out.append(f"  CORS origins: {origins}")
    if not settings.metrics_enabled:
        out.append("  /metrics: off")
    elif settings.metrics_token:
        out.append("  /metrics: on, for the SIMPLECHAT_METRICS_TOKEN bearer only")
    else:
        out.append("  /metrics: on, open to anyone (SIMPLECHAT_METRICS_TOKEN closes it)")
    log_format = resolve_format(settings.log_format)
    out.append(f"  logs: {settings.log_level}, {log_format} ({settings.log_format})")
    if "*" in settings.cors_origins:
        findings.notes.append(
            "SIMPLECHAT_CORS_ORIGINS allows every website to call this API from a browser "
            "(tokens are not cookies, so a site still needs the user's token)."
        )


def _every_setting(settings: Settings) -> list[str]:
    rows = []
    for name in Settings.model_fields:
        source = "set" if name in settings.model_fields_set else "default"
        value = shown_value(settings, name)
        rows.append(
            f"  {env_name(name):<{NAME_COLUMN_CHARS}} {value:<{SHOWN_VALUE_CHARS}}  {source}"
        )
    return rows


def _print_validation_error(error: ValidationError, stream: TextIO) -> None:
    print("simplechat: the configuration is not valid:", file=stream)
    by_alias = {
        alias: name
        for name, info in Settings.model_fields.items()
        if isinstance(info.validation_alias, AliasChoices)
        for alias in info.validation_alias.choices
        if isinstance(alias, str)
    }
    for problem in error.errors():
        loc = str(problem["loc"][0]) if problem["loc"] else ""
        name = by_alias.get(loc, loc)
        where = env_name(name) if name in Settings.model_fields else loc or "settings"
        message = str(problem["msg"]).removeprefix("Value error, ")
        allowed = _allowed_range(name) if name in Settings.model_fields else ""
        print(f"  {where}: {message}{allowed}", file=stream)


def _allowed_range(name: str) -> str:
    """' (allowed: 1 to 100)' from a setting's numeric bounds; '' when it has none."""
    low = high = ""
    for bound in Settings.model_fields[name].metadata:
        if isinstance(bound, Ge):
            low = f"at least {bound.ge}"
        elif isinstance(bound, Gt):
            low = f"more than {bound.gt}"
        elif isinstance(bound, Le):
            high = f"at most {bound.le}"
        elif isinstance(bound, Lt):
            high = f"less than {bound.lt}"
    if low.startswith("at least") and high.startswith("at most"):
        return f" (allowed: {low.removeprefix('at least ')} to {high.removeprefix('at most ')})"
    allowed = ", ".join(part for part in (low, high) if part)
    return f" (allowed: {allowed})" if allowed else ""


def check_config(stream: TextIO | None = None) -> int:
    """Print the effective configuration, secrets masked; 1 when the server could not start."""
    stream = stream or sys.stdout
    try:
        settings = get_settings()
    except ValidationError as exc:
        _print_validation_error(exc, stream)
        return 1
    findings = Findings()
    out = [
        f"simplechat {__version__}: effective configuration "
        f"(environment, then {Path('.env').resolve()}, then defaults)",
        "Database",
    ]
    _database(settings, out, findings)
    out.append("Auth")
    _auth(settings, out, findings)
    out.append("Providers")
    _providers(settings, out, findings)
    _media(settings, out, findings)
    _limits_and_edge(settings, out, findings)
    out.append("Every setting")
    out.extend(_every_setting(settings))
    for label, items in (
        ("Errors", findings.errors),
        ("Warnings", findings.warnings),
        ("Notes", findings.notes),
    ):
        if items:
            out.append(label)
            out.extend(f"  - {item}" for item in items)
    if findings.errors:
        out.append("Not ready: fix the errors above, then run `simplechat check-config` again.")
    else:
        out.append(f"Ready: `simplechat serve` will start ({len(findings.warnings)} warning(s)).")
    print("\n".join(out), file=stream)
    return 1 if findings.errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args.host, args.port, args.workers)
    if args.command == "check-config":
        return check_config()
    if args.command == "admin":
        return run_admin(args)
    return 2
