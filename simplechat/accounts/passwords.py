"""Password hashing (argon2) off the event loop, a bounded number at a time.

Each argon2 hash or check takes 64 MiB for about 0.1 s. Without a bound, a burst of logins
would run one per thread of the default pool at once (and their memory with them); the
semaphore makes the rest wait their turn instead, so a worker's memory stays flat however many
logins arrive together.
"""

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_HASHER = PasswordHash((Argon2Hasher(),))
# Checking a password against a dummy hash when the user does not exist (or has no password)
# makes such a login cost the same as a wrong password, so timing does not reveal accounts.
_DUMMY_HASH = _HASHER.hash("simplechat-dummy-password")


class Passwords:
    def __init__(self, *, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(_HASHER.hash, password)

    async def verify(self, password: str, stored_hash: str | None) -> bool:
        """Whether `password` matches; always spends one check, even without a stored hash."""
        async with self._slots:
            valid = await asyncio.to_thread(_verify, password, stored_hash or _DUMMY_HASH)
        return valid and bool(stored_hash)


def _verify(password: str, stored_hash: str) -> bool:
    try:
        return _HASHER.verify(password, stored_hash)
    except Exception:  # a corrupt stored hash must read as a failed login, not a 500
        return False
