"""Accounts and tokens: sign up, log in (OAuth2 password flow), and who a Bearer token is."""

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from simplechat.accounts.repository import UserRepository
from simplechat.accounts.rules import password_problem, username_problem
from simplechat.accounts.types import User
from simplechat.kit.errors import InvalidCredentials, InvalidInput, NotAuthenticated

JWT_ALGORITHM = "HS256"
_HASHER = PasswordHash((Argon2Hasher(),))
# Verifying against a dummy hash when the user does not exist makes a login for an unknown
# username cost the same as one with a wrong password, so timing does not reveal accounts.
_DUMMY_HASH = _HASHER.hash("simplechat-dummy-password")


class AccountService:
    def __init__(self, *, users: UserRepository, secret: str, expire_minutes: int) -> None:
        self._users = users
        self._secret = secret
        self._expire = timedelta(minutes=expire_minutes)

    async def sign_up(self, *, username: str, password: str) -> User:
        problem = username_problem(username) or password_problem(password)
        if problem:
            raise InvalidInput(problem)
        password_hash = await asyncio.to_thread(_HASHER.hash, password)
        return await self._users.create(username=username, password_hash=password_hash)

    async def log_in(self, *, username: str, password: str) -> str:
        found = await self._users.get_with_hash(username)
        stored_hash = found[1] if found else _DUMMY_HASH
        valid = await asyncio.to_thread(_verify, password, stored_hash)
        if found is None or not valid:
            raise InvalidCredentials()
        return self.issue_token(found[0])

    def issue_token(self, user: User, *, now: datetime | None = None) -> str:
        issued = now or datetime.now(UTC)
        claims = {
            "sub": user.id,
            "name": user.username,
            "iat": issued,
            "exp": issued + self._expire,
        }
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)

    def user_id_from_token(self, token: str) -> str:
        """The user id a valid, unexpired token was issued to (no database lookup: the chat
        routes prove the user still exists in the same round trip that admits the message)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("The token has expired: log in again.") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthenticated("The token is not valid.") from exc
        return str(claims["sub"])

    async def user_from_token(self, token: str) -> User:
        user = await self._users.get(self.user_id_from_token(token))
        if user is None:
            raise NotAuthenticated("The token's user no longer exists.")
        return user


def _verify(password: str, stored_hash: str) -> bool:
    try:
        return _HASHER.verify(password, stored_hash)
    except Exception:  # a corrupt stored hash must read as a failed login, not a 500
        return False
