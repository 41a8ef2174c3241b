"""The JWT signing secret kept in the data directory when none is configured."""

import os
import secrets
from pathlib import Path

SECRET_FILE_NAME = "jwt_secret"
SECRET_BYTES = 48


def load_or_create_secret(data_dir: Path) -> str:
    """Read the stored secret, or create a strong one (mode 0600) exactly once.

    Several workers may start together: the file is written under a temporary name and linked
    into place, so exactly one secret wins and every process reads that one.
    """
    path = data_dir / SECRET_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".{SECRET_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(SECRET_BYTES))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
