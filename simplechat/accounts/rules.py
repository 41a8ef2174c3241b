"""What makes account fields acceptable, and the small pure helpers accounts rely on."""

import hashlib
import re

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024
EMAIL_MAX_LENGTH = 254
# Deliberately loose (one @, a dot in the domain, no spaces): only a sent mail proves an address.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DISPLAY_NAME_MAX_LENGTH = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
WECHAT_USERNAME_PREFIX = "wx_"


def username_problem(username: str) -> str | None:
    """Why a username is not acceptable, or None when it is."""
    if not USERNAME_PATTERN.fullmatch(username):
        return "Usernames are 3-32 characters of letters, digits, '_', '-' and '.'."
    return None


def password_problem(password: str) -> str | None:
    """Why a password is not acceptable, or None when it is."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"Passwords must be at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"Passwords must be at most {PASSWORD_MAX_LENGTH} characters."
    return None


def email_problem(email: str) -> str | None:
    if len(email) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.fullmatch(email):
        return "That is not an email address (name@example.com)."
    return None


def display_name_problem(name: str) -> str | None:
    if not name.strip() or len(name) > DISPLAY_NAME_MAX_LENGTH or _CONTROL.search(name):
        return f"Display names are 1-{DISPLAY_NAME_MAX_LENGTH} printable characters."
    return None


def token_hash(token: str) -> str:
    """What is stored of a refresh token: its SHA-256 (the token is 256 random bits, so a
    plain hash cannot be reversed or guessed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def search_prefix_problem(prefix: str) -> str | None:
    if not USERNAME_PATTERN.fullmatch(prefix + "xxx"[: max(0, 3 - len(prefix))]):
        return "Search by the start of a username: up to 32 letters, digits, '_', '-' and '.'."
    return None


def prefix_range(prefix: str) -> tuple[str, str]:
    """The [low, high) range of usernames that start with `prefix` (a non-empty run of
    username characters). No regular expression: user text is never a pattern, and a range
    reads one index on every server."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def wechat_username(random_hex: str) -> str:
    """The username a new WeChat user gets (they can log in with WeChat only, until they set
    a password)."""
    return f"{WECHAT_USERNAME_PREFIX}{random_hex[:12]}"


# --- where an account logs in from (the login throttle spares those places) ---
KNOWN_ADDRESSES = 8  # the addresses of the last successful logins an account remembers
_ADDRESS_TAG_CHARS = 16


def address_tag(user_id: str, address: str) -> str:
    """What an account remembers of an address it logged in from: a hash salted with the
    user's id (no address is stored, and tags say nothing across accounts)."""
    return hashlib.sha256(f"{user_id}|{address}".encode()).hexdigest()[:_ADDRESS_TAG_CHARS]


def remembered(tags: tuple[str, ...], tag: str) -> tuple[str, ...]:
    """The known addresses after a successful login from `tag`: the newest last, at most
    KNOWN_ADDRESSES of them."""
    return (*(t for t in tags if t != tag), tag)[-KNOWN_ADDRESSES:]
