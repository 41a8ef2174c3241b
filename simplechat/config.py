"""Settings, read once from the environment (and `.env`) by `get_settings()`.

Nothing else in simplechat reads `os.environ`. Most names carry the `SIMPLECHAT_` prefix; the
provider keys and the MongoDB URI also answer to the names their ecosystems use
(`MONGODB_URI`, `OPENROUTER_API_KEY`, `DASHSCOPE_API_KEY`, ...).
"""

import json
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    """Accept both NAME and SIMPLECHAT_NAME."""
    return AliasChoices(name, f"SIMPLECHAT_{name}")


DEFAULT_ADVANCED_PROMPT = (
    "You are a warm, caring companion. Listen closely, acknowledge how the person feels, "
    "answer with kindness and patience, and offer gentle, practical help. Address the person "
    "by name when they have told you their name."
)
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and concisely."
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
MIN_SECRET_CHARS = 32
MediaEngineChoice = Literal["auto", "dashscope", "openai", "local"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIMPLECHAT_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,  # `KEY=` (a blank .env line, an empty platform preset) = unset
    )

    # --- storage ---
    mongodb_uri: SecretStr | None = Field(default=None, validation_alias=_env("MONGODB_URI"))
    mongodb_db: str = "simplechat"
    mongodb_timeout_ms: int = Field(default=5000, ge=100, le=600_000)
    data_dir: Path = Path(".simplechat")

    # --- auth ---
    jwt_secret: SecretStr | None = None
    jwt_expire_minutes: int = Field(default=24 * 60, ge=1, le=366 * 24 * 60)  # access tokens
    refresh_token_days: int = Field(default=90, ge=1, le=3660)
    # Password hashes computed at once per worker (argon2 takes 64 MiB each): more wait.
    password_hash_concurrency: int = Field(default=2, ge=1, le=64)
    max_body_bytes: int = Field(default=1_000_000, ge=64, le=100_000_000)
    # Encrypts users' own provider keys (a Fernet key); unset: generated once in data_dir.
    secrets_key: SecretStr | None = None
    # Users' own provider keys: off | allowed (theirs when set, else the server's) | required.
    byok: Literal["off", "allowed", "required"] = "allowed"

    # --- WeChat mini-program login ---
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_base_url: str = "https://api.weixin.qq.com"

    # --- providers ---
    openrouter_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("OPENROUTER_API_KEY")
    )
    openrouter_base_url: str = Field(
        default="https://openrouter.ai/api/v1", validation_alias=_env("OPENROUTER_BASE_URL")
    )
    openrouter_referer: str = "https://github.com/simplechat/simplechat"
    openrouter_title: str = "simplechat"
    dashscope_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("DASHSCOPE_API_KEY")
    )
    dashscope_base_url: str = Field(
        default="https://dashscope.aliyuncs.com/api/v1",
        validation_alias=_env("DASHSCOPE_BASE_URL"),
    )
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    read_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    upstream_max_retries: int = Field(default=2, ge=0, le=10)
    upstream_backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    upstream_max_retry_after_seconds: float = Field(default=10.0, ge=0, le=3600)
    # Provider requests one worker keeps open at once (streams included); one more gets 503.
    max_upstream_requests: int = Field(default=1000, ge=1, le=100_000)

    # --- models and prompts ---
    models_file: Path | None = None
    default_model: str = "mistralai/mistral-7b-instruct"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    advanced_prompt: str = DEFAULT_ADVANCED_PROMPT
    context_safety_margin: int = Field(default=64, ge=0, le=100_000)
    history_max_entries: int = Field(default=100, ge=1, le=1000)  # chat.router.HISTORY_CEILING
    stream_keepalive_seconds: float = Field(default=15.0, gt=0, le=300)
    stream_first_chunk_wait_seconds: float = Field(default=10.0, ge=0, le=300)
    # A parameter the model cannot take (tools, n, response_format...): dropped instead of a
    # 400 unsupported_parameter (LiteLLM's drop_params, for lenient clients).
    drop_unsupported_params: bool = False

    # --- limits ---
    daily_limit: int = Field(default=20, ge=0)
    burst_limit: int = Field(default=3, ge=1, le=100)  # one counter field per allowed message
    burst_window_seconds: int = Field(default=30, ge=1)
    timezone: str = "UTC"
    rate_limit_status: int = 401
    ip_limit: str = "10/minute"
    # Per account, from addresses it never logged in from (accounts/throttles.py); per user.
    login_account_limit: str = "20/hour"
    password_check_limit: str = "10/hour"  # password change, account deletion
    avatar_upload_limit: str = "20/hour"

    # --- credits (billing) ---
    credits: bool = False  # SIMPLECHAT_CREDITS=on: balances, holds, redeem codes
    signup_credits: Decimal = Field(default=Decimal(0), ge=0, le=10**9, decimal_places=4)
    hold_timeout_seconds: int = Field(default=900, ge=60)  # then the sweeper releases a hold
    billing_sweep_seconds: float = Field(default=60.0, gt=0)
    redeem_attempts: int = Field(default=10, ge=1)  # failed redeem attempts per user per window
    redeem_window_seconds: int = Field(default=3600, ge=1)
    redeem_ip_limit: str = "10/minute"

    # --- tasks (answers generated in the background, streamed from any worker) ---
    task_lease_seconds: float = Field(default=30.0, ge=1, le=3600)  # then a silent task fails
    task_flush_seconds: float = Field(default=0.1, gt=0, le=10)  # output batches: this often...
    task_flush_tokens: int = Field(default=20, ge=1, le=10_000)  # ...or this many deltas
    task_max_running: int = Field(default=100, ge=1, le=100_000)  # per worker; more are queued
    task_keep_hours: float = Field(default=168.0, ge=0)  # finished tasks are kept (0: forever)
    task_stream_max_seconds: float = Field(default=1800.0, gt=0, le=86_400)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name like Europe/Paris)"
            ) from exc
        return value

    @field_validator(
        "ip_limit",
        "redeem_ip_limit",
        "login_account_limit",
        "password_check_limit",
        "avatar_upload_limit",
    )
    @classmethod
    def _ip_rate(cls, value: str) -> str:
        import limits  # the rate parser the per-IP limit uses

        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate like '10/minute' or '100/hour'") from None
        return value

    @field_validator("secrets_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from cryptography.fernet import Fernet

            try:
                Fernet(value.get_secret_value())
            except ValueError:
                raise ValueError(
                    "must be a Fernet key: 32 url-safe base64-encoded bytes (e.g. the output of "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`)"
                ) from None
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_CHARS:
            raise ValueError(
                f"must be at least {MIN_SECRET_CHARS} characters (e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return value

    @field_validator("rate_limit_status")
    @classmethod
    def _limit_status(cls, value: int) -> int:
        if value not in (401, 429):
            raise ValueError("must be 401 or 429")
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    # --- http edge ---
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "info"
    log_format: Literal["auto", "json", "text"] = "auto"
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None  # set: /metrics wants `Authorization: Bearer <it>`

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return value.lower()

    # --- speech and pictures (media/; engines chosen in llm/media_engines.py) ---
    speech_engine: MediaEngineChoice = "auto"
    ocr_engine: MediaEngineChoice = "auto"
    dashscope_speech_model: str = "paraformer-realtime-v2"
    dashscope_ocr_model: str = "qwen-vl-ocr"
    dashscope_websocket_url: str | None = None  # unset: beside DASHSCOPE_BASE_URL
    openai_speech_model: str | None = None  # "auto" uses an OpenAI-compatible server only
    openai_vision_model: str | None = None  # for what these name
    daily_speech_seconds: int = Field(default=600, ge=0)
    daily_pictures: int = Field(default=20, ge=0)
    media_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    media_max_seconds: int = Field(default=600, ge=1)
    media_max_pixels: int = Field(default=40_000_000, ge=10_000, le=89_000_000)  # < Pillow's
    media_local_workers: int = Field(default=1, ge=1, le=16)
    # Image and audio decoding (avatars, /media/*) on threads of its own: so many at once per
    # worker, and so many waiting; more get 503 (kit/executors.py).
    decode_workers: int = Field(default=1, ge=1, le=16)
    decode_queue: int = Field(default=8, ge=0, le=1000)
    media_queue_seconds: float = Field(default=30.0, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        """Accept `https://a.example,https://b.example` as well as a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
