"""Tokens: stateless access tokens (JWT, `typ: access`) and rotating refresh tokens.

A login starts a refresh-token family. `rotate` adds the next token to the family, then marks
the presented one used with one conditional update: of parallel refreshes with one token
exactly one wins, and a token presented again after its rotation (a stolen copy, or a client
that refreshed twice) revokes the whole family, the winner's new token included (it was added
before the race was decided, so the revocation always reaches it).

Access tokens carry the user's token epoch (`ep`) they were issued under; the user lookup
every authenticated request makes compares it with the stored one (see `Principal`), so moving
the epoch on revokes every access token issued before, without a list of revoked tokens.
A token without `ep` (issued before epochs were carried) counts as epoch 0.

Refresh tokens are 256 random bits, stored as their SHA-256 only; they are not JWTs, so no
refresh token can ever pass for an access token, and an access token is no refresh token.
"""

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt

from simplechat.accounts.errors import InvalidRefreshToken
from simplechat.accounts.repository.refresh_tokens import (
    RefreshTokenRepository,
    StoredRefreshToken,
)
from simplechat.accounts.rules import token_hash
from simplechat.accounts.types import Principal, TokenPair, User
from simplechat.kit.errors import NotAuthenticated

JWT_ALGORITHM = "HS256"
ACCESS_TYPE = "access"
EPOCH_CLAIM = "ep"
REFRESH_TOKEN_BYTES = 32


class Sessions:
    def __init__(
        self,
        *,
        refresh_tokens: RefreshTokenRepository,
        secret: str,
        access_minutes: int,
        refresh_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._refresh_tokens = refresh_tokens
        self._secret = secret
        self._access = timedelta(minutes=access_minutes)
        self._refresh = timedelta(days=refresh_days)
        self._clock = clock

    # --- access tokens ---
    def access_token(self, user: User, *, epoch: int, now: datetime | None = None) -> str:
        issued = now or self._clock()
        claims = {
            "sub": user.id,
            "name": user.username,
            "typ": ACCESS_TYPE,
            EPOCH_CLAIM: epoch,
            "iat": issued,
            "exp": issued + self._access,
        }
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)

    def principal(self, token: str) -> Principal:
        """The user id and token epoch a valid, unexpired access token was issued with (no
        database lookup: whoever reads the user compares the epoch)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["sub", "exp", "iat", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("The token has expired: log in again.") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthenticated("The token is not valid.") from exc
        if claims["typ"] != ACCESS_TYPE:
            raise NotAuthenticated("This is not an access token.")
        epoch = claims.get(EPOCH_CLAIM, 0)
        if not isinstance(epoch, int) or isinstance(epoch, bool):
            raise NotAuthenticated("The token is not valid.")
        return Principal(user_id=str(claims["sub"]), epoch=epoch)

    # --- refresh tokens ---
    async def start(self, user: User, *, epoch: int) -> TokenPair:
        """A new family (a login): an access token and its first refresh token."""
        family = secrets.token_hex(16)
        return await self._issue(user, family=family, epoch=epoch)

    async def find(self, refresh_token: str) -> StoredRefreshToken:
        stored = await self._refresh_tokens.find(token_hash(refresh_token))
        if stored is None:
            raise InvalidRefreshToken()
        return stored

    async def find_unused(self, refresh_token: str) -> StoredRefreshToken | None:
        """The stored token if it is known and not used yet (None otherwise)."""
        stored = await self._refresh_tokens.find(token_hash(refresh_token))
        return None if stored is None or stored.used else stored

    async def rotate(self, refresh_token: str, stored: StoredRefreshToken, user: User) -> TokenPair:
        """Exchange `refresh_token` (found as `stored`) for a new pair, once."""
        if stored.used:
            await self._refresh_tokens.revoke_family(stored.family)
            raise InvalidRefreshToken("This refresh token was already used: log in again.")
        pair = await self._issue(user, family=stored.family, epoch=stored.epoch)
        if not await self._refresh_tokens.use(token_hash(refresh_token), self._clock()):
            await self._refresh_tokens.revoke_family(stored.family)
            raise InvalidRefreshToken()
        return pair

    async def revoke(self, refresh_token: str) -> None:
        """Log out: the token's family stops working (unknown tokens are ignored)."""
        stored = await self._refresh_tokens.find(token_hash(refresh_token))
        if stored is not None:
            await self._refresh_tokens.revoke_family(stored.family)

    async def revoke_family(self, family: str) -> None:
        await self._refresh_tokens.revoke_family(family)

    async def revoke_user(self, user_id: str) -> None:
        await self._refresh_tokens.revoke_user(user_id)

    async def _issue(self, user: User, *, family: str, epoch: int) -> TokenPair:
        now = self._clock()
        refresh_token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
        await self._refresh_tokens.add(
            token_hash=token_hash(refresh_token),
            user_id=user.id,
            family=family,
            epoch=epoch,
            expires_at=now + self._refresh,
        )
        return TokenPair(
            access_token=self.access_token(user, epoch=epoch, now=now),
            refresh_token=refresh_token,
            expires_in=int(self._access.total_seconds()),
        )
