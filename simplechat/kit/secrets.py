"""Secrets: the JWT signing secret and the key that encrypts users' provider keys, kept in
the data directory when none is configured, and how a secret or a URL with a password is shown
(check-config, logs)."""

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

_URL_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]+:)[^@\s/]+@")
MASK_MIN_CHARS = 16

SECRET_FILE_NAME = "jwt_secret"
SECRET_BYTES = 48
FERNET_KEY_FILE_NAME = "secrets_key"


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def load_or_create_fernet_key(data_dir: Path) -> str:
    """The key that encrypts users' provider keys: stored like the JWT secret."""
    return load_or_create_secret(data_dir, name=FERNET_KEY_FILE_NAME, make=_fernet_key)


def load_or_create_secret(
    data_dir: Path,
    *,
    name: str = SECRET_FILE_NAME,
    make: Callable[[], str] = lambda: secrets.token_urlsafe(SECRET_BYTES),
) -> str:
    """Read the stored secret, or create a strong one (mode 0600) exactly once.

    Several workers may start together: the file is written under a temporary name and linked
    into place, so exactly one secret wins and every process reads that one.
    """
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def mask_url(url: str) -> str:
    """`url` with any password replaced by ****."""
    return _URL_PASSWORD.sub(r"\g<head>****@", url)


def url_has_password(url: str) -> bool:
    return _URL_PASSWORD.search(url) is not None


def mask_secret(secret: SecretStr | None) -> str:
    """A long secret as its first 3 and last 4 characters; a short one not at all."""
    if secret is None:
        return "unset"
    value = secret.get_secret_value()
    if len(value) >= MASK_MIN_CHARS:
        return f"{value[:3]}…{value[-4:]}"
    return "set (hidden)"
