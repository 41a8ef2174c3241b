"""Logging: one JSON object per line when stderr is not a terminal, readable lines when it is.

Every record carries the id of the request it belongs to (`request_id`, "-" outside requests).
simplechat's own loggers and uvicorn's log at the configured level; everything else (pymongo,
aiohttp, dashscope...) only from WARNING, so no library's debug output can print message text or
credentials. As a last guard, `RedactingFilter` masks anything shaped like a Bearer token, a JWT,
an API key, a redeem code or a password in a URL before a record is written; the access log
and the error logs pass request paths through `redact` themselves (GET /admin/codes/{code}
carries a code in its path).
"""

import json
import logging
import logging.config
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from simplechat.kit.telemetry import current_request_id

LogFormat = Literal["auto", "json", "text"]

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
OUR_LOGGERS = ("simplechat", "uvicorn", "uvicorn.error", "uvicorn.access")
REDACTIONS = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "***"),
    (re.compile(r"\b(sk-[A-Za-z0-9]{0,4})[A-Za-z0-9_-]{8,}"), r"\1***"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s/]+@"), r"\1***@"),
    # a redeem code: 28 letters and digits, maybe in groups of 4 (its first 4 are kept)
    (
        re.compile(
            r"(?<![0-9A-Za-z])([0-9A-Za-z]{4})[- ]?(?:[0-9A-Za-z]{4}[- ]?){5}[0-9A-Za-z]{4}"
            r"(?![0-9A-Za-z])"
        ),
        r"\1-…",
    ),
)
# Attributes every LogRecord has; anything else was passed with `extra=` and is a field.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "color_message"}
)


def redact(text: str) -> str:
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Adds `request_id` to each record and masks credentials in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", "-")
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id == "-" else request_id,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def resolve_format(log_format: LogFormat) -> Literal["json", "text"]:
    if log_format != "auto":
        return log_format
    return "text" if sys.stderr.isatty() else "json"


def logging_config(
    level: str, log_format: LogFormat = "auto", loggers: tuple[str, ...] = OUR_LOGGERS
) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict; uvicorn gets it too and applies it in each worker."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if resolve_format(log_format) == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": f"{__name__}.RedactingFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["redact"],
            }
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            name: {"handlers": [], "level": level.upper(), "propagate": True} for name in loggers
        },
    }


def ensure_logging(level: str, log_format: LogFormat = "auto") -> None:
    """Configure logging unless something already did (the CLI, uvicorn's --log-config, pytest)."""
    if not logging.getLogger().handlers:
        logging.config.dictConfig(logging_config(level, log_format, loggers=("simplechat",)))
