"""Personal API keys and users' own provider keys.

`KeyService`: a user's `sk-sc-...` keys (created, listed, changed, deleted; every key for an
admin), the key a request presents turned into its grant (`grant`, the `KeyResolver`
accounts asks), and each model call counted against the key's
daily cap in one conditional update (`charge`), given back when the call fails.

`ProviderKeyService`: each user's own OpenRouter, DashScope and OpenAI keys, encrypted with
Fernet; `key_for` is the key a call to that vendor uses (None: the server's).
"""

import builtins
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet, InvalidToken

from simplechat.keys.errors import (
    ApiKeyNotFound,
    ApiKeyRefused,
    KeyLockedByAdmin,
    ModelNotAllowed,
    ProviderKeyMissing,
)
from simplechat.keys.repository import ApiKeyRepository, ProviderKeyRepository
from simplechat.keys.rules import (
    KEY_PREFIX,
    caps_fields,
    change_fields,
    day_key,
    key_hash,
    last4,
    model_allowed,
    shown_prefix,
    spent,
    to_ms,
)
from simplechat.keys.types import (
    ApiKey,
    ByokMode,
    CreatedKey,
    KeyBudgets,
    KeyCaps,
    KeyChanges,
    KeyCharge,
    KeyGrant,
    Provider,
    ProviderKeyInfo,
    budget_account,
)
from simplechat.kit.errors import InvalidInput, RateLimited, ServerBusy
from simplechat.kit.pagination import Paged, PageParams

KEY_RANDOM_BYTES = 32  # 256 random bits
KEY_DAILY_LIMIT_CODE = "key_daily_limit"
MAX_COUNT_ATTEMPTS = 8  # each lost attempt means the key changed (its cap or its day)
SECONDS_A_DAY = 86_400


class KeyService:
    def __init__(
        self,
        *,
        repo: ApiKeyRepository,
        tz: ZoneInfo,
        budgets: KeyBudgets | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._tz = tz
        self._budgets = budgets  # None: max_credits is counted (by chat) but not shown
        self._clock = clock

    # --- a user's own keys ---
    async def create(self, user_id: str, name: str, caps: KeyCaps) -> CreatedKey:
        """A new key; its secret is in the answer and nowhere else, ever."""
        self._check_expiry(caps.expires_at)
        secret = KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)
        key_id = await self._repo.add(
            {
                "key_hash": key_hash(secret),
                "prefix": shown_prefix(secret),
                "user_id": user_id,
                "name": name,
                "enabled": True,
                **caps_fields(caps),
            }
        )
        if caps.max_credits is not None and self._budgets is not None:
            await self._budgets.open(budget_account(key_id), caps.max_credits)
        return CreatedKey(key=await self.get(user_id, key_id), secret=secret)

    async def list(self, user_id: str) -> list[ApiKey]:
        return await self._with_spend(await self._repo.of_user(user_id, today=self._today()))

    async def get(self, user_id: str, key_id: str) -> ApiKey:
        key = await self._repo.get(key_id, user_id=user_id, today=self._today())
        if key is None:
            raise ApiKeyNotFound()
        return (await self._with_spend([key]))[0]

    async def update(self, user_id: str | None, key_id: str, changes: KeyChanges) -> ApiKey:
        """Change a key (user_id None: any user's, for an admin); 404 when there is none. An
        admin's disable sticks: its owner enabling it gets 403 (one conditional update)."""
        if "expires_at" in changes.fields:
            self._check_expiry(changes.expires_at)
        by_admin = user_id is None
        enabling = "enabled" in changes.fields and changes.enabled is True
        updated = await self._repo.update(
            key_id,
            change_fields(changes, by_admin=by_admin),
            user_id=user_id,
            today=self._today(),
            unlocked=enabling and not by_admin,
        )
        if updated is None:
            if enabling and not by_admin and await self._repo.get(key_id, today=0, user_id=user_id):
                raise KeyLockedByAdmin()
            raise ApiKeyNotFound()
        key, cap_before = updated
        if "max_credits" in changes.fields:
            await self._move_budget(key.id, cap_before, changes.max_credits)
        return (await self._with_spend([key]))[0]

    async def delete(self, user_id: str, key_id: str) -> None:
        if not await self._repo.delete(key_id, user_id=user_id):
            raise ApiKeyNotFound()
        if self._budgets is not None:
            await self._budgets.close([budget_account(key_id)])

    async def delete_owner_data(self, user_id: str) -> None:
        if self._budgets is not None:
            ids = await self._repo.ids_of_user(user_id)
            await self._budgets.close([budget_account(key_id) for key_id in ids])
        await self._repo.delete_for_user(user_id)

    async def _move_budget(self, key_id: str, before: int | None, after: int | None) -> None:
        """The key's budget follows its new cap: moved by the difference (one update), opened
        for a key that had none, closed (spend forgotten) when the cap is cleared."""
        if self._budgets is None or before == after:
            return
        account = budget_account(key_id)
        if before is not None and after is not None:
            await self._budgets.change(account, after - before)
        elif after is not None:
            await self._budgets.open(account, after)
        else:
            await self._budgets.close([account])

    async def _with_spend(self, keys: Sequence[ApiKey]) -> "builtins.list[ApiKey]":
        capped = [budget_account(k.id) for k in keys if k.caps.max_credits is not None]
        if self._budgets is None or not capped:
            return list(keys)
        states = await self._budgets.read(capped)
        return [spent(k, states.get(budget_account(k.id))) for k in keys]

    # --- every key (admins) ---
    async def page(self, user_id: str | None, page: PageParams) -> Paged[ApiKey]:
        keys, total = await self._repo.page(
            user_id=user_id, skip=page.skip, limit=page.limit, today=self._today()
        )
        return Paged(await self._with_spend(keys), total, page)

    async def find(self, key_id: str) -> ApiKey:
        key = await self._repo.get(key_id, today=self._today())
        if key is None:
            raise ApiKeyNotFound()
        return (await self._with_spend([key]))[0]

    # --- a key presented with a request ---
    async def grant(self, secret: str) -> KeyGrant:
        """The valid key `secret` is (401 when unknown, disabled, expired or deleted)."""
        found = await self._repo.authenticate(key_hash(secret), now_ms=to_ms(self._clock()))
        if found is None:
            raise ApiKeyRefused()
        return found

    async def charge(self, grant: KeyGrant, model: str) -> KeyCharge:
        """Count one model call against the key: 403 outside its allow-list, 401 when it
        stopped being valid, 429 over its daily cap. One conditional update decides."""
        if not model_allowed(grant.models, model):
            raise ModelNotAllowed(f"This API key may not use the model {model!r}.")
        current: KeyGrant | None = grant
        for _ in range(MAX_COUNT_ATTEMPTS):
            assert current is not None
            now = self._clock()
            day = day_key(now, self._tz)
            if await self._repo.count_use(current, day=day, now_ms=to_ms(now)):
                return KeyCharge(key_id=grant.key_id, day=day)
            fresh = await self._repo.read_grant(grant.key_id, now_ms=to_ms(now))
            if fresh is None:
                raise ApiKeyRefused()
            if not model_allowed(fresh.models, model):
                raise ModelNotAllowed(f"This API key may not use the model {model!r}.")
            if fresh.daily_cap == current.daily_cap:
                raise RateLimited(
                    "This API key has used its daily limit; it resets tomorrow.",
                    limit_code=KEY_DAILY_LIMIT_CODE,
                    retry_after=self._seconds_to_tomorrow(now),
                )
            current = fresh  # the cap changed since the key was read: count again
        raise ServerBusy("Too many parallel changes to this API key; try again.")

    async def give_back(self, charge: KeyCharge) -> None:
        """A call that failed counts for nothing against its key."""
        await self._repo.give_back(charge.key_id, day=charge.day)

    def _today(self) -> int:
        return day_key(self._clock(), self._tz)

    def _seconds_to_tomorrow(self, now: datetime) -> int:
        local = now.astimezone(self._tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return SECONDS_A_DAY - int((local - midnight).total_seconds())

    def _check_expiry(self, expires_at: datetime | None) -> None:
        if expires_at is None:
            return
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at needs a time zone, e.g. 2027-01-01T00:00:00Z.")
        if expires_at <= self._clock():
            raise InvalidInput("expires_at must be in the future.")


@dataclass(frozen=True, slots=True)
class _Stored:
    provider: Provider
    last4: str
    updated_ms: int


class ProviderKeyService:
    def __init__(
        self,
        *,
        repo: ProviderKeyRepository,
        cipher: Fernet,
        mode: ByokMode,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._cipher = cipher
        self.mode = mode
        self._clock = clock

    async def put(self, user_id: str, provider: Provider, api_key: str) -> ProviderKeyInfo:
        """Store (or replace) the user's key for `provider`, encrypted."""
        if self.mode is ByokMode.OFF:
            raise InvalidInput("This server does not take users' own provider keys.")
        now = self._clock().replace(microsecond=0)  # as listed later (stored in ms)
        token = self._cipher.encrypt(api_key.encode()).decode()
        await self._repo.put(
            user_id=user_id,
            provider=provider,
            secret=token,
            last4=last4(api_key),
            now_ms=to_ms(now),
        )
        return ProviderKeyInfo(provider=provider, last4=last4(api_key), updated_at=now)

    async def list(self, user_id: str) -> list[ProviderKeyInfo]:
        return [
            ProviderKeyInfo(p, tail, datetime.fromtimestamp(ms / 1000, UTC))
            for p, tail, ms in await self._repo.of_user(user_id)
        ]

    async def delete(self, user_id: str, provider: Provider) -> None:
        if not await self._repo.delete(user_id, provider):
            raise ApiKeyNotFound(f"No {provider.value} key is stored for you.")

    async def delete_owner_data(self, user_id: str) -> None:
        await self._repo.delete_for_user(user_id)

    async def key_for(self, user_id: str, vendor: str, *, server_key: bool = True) -> str | None:
        """The key the user's call to `vendor` uses: theirs, or None for the server's (400
        when this server requires users' own keys, or has no key of its own for `vendor`
        (`server_key` False), and they have none)."""
        if self.mode is ByokMode.OFF or vendor not in Provider.__members__.values():
            return None
        token = await self._repo.secret(user_id, Provider(vendor))
        if token is not None:
            try:
                return self._cipher.decrypt(token.encode()).decode()
            except InvalidToken:  # the secrets key changed: the stored key is unreadable
                token = None
        if self.mode is ByokMode.REQUIRED:
            raise ProviderKeyMissing(
                f"This server uses your own {vendor} API key: store it with "
                f"PUT /user/provider-keys/{vendor}."
            )
        if not server_key:
            raise ProviderKeyMissing(
                f"This server has no {vendor} API key of its own: store yours with "
                f"PUT /user/provider-keys/{vendor} to use its models."
            )
        return None
