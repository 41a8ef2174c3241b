"""CodeService: redeem codes, made by admins and used by users.

A code is shown once, when it is made; it is stored as its SHA-256 with its first symbols
(billing.rules.code_id), like API keys, so the database, the lists, the logs and the audit log
never hold it. Codes made before that keep their plaintext id and keep working (found by
either id, `code_refs`; by their listed id, the hash of the code, too), and are never shown
whole either.

A code is used by one conditional update from unused to used (keyed by the code), so of any
number of parallel attempts, across workers, exactly one matches; the others get 409. The
credit follows through `BillingService.credit_code`, which credits each code to its account
at most once: a crash between the two leaves the code used with its credit due, and the
sweeper (or the next attempt at the code) finishes it.

Attempts are limited per user (a fixed window counted in the user's credit account, one
conditional update; successful redemptions give their attempt back) and per IP (slowapi, on
the route), so codes cannot be guessed.
"""

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from simplechat.billing.balances import Balances
from simplechat.billing.errors import (
    CodeDisabled,
    CodeExpired,
    CodeNotFound,
    CodeUsed,
    CreditsDisabled,
)
from simplechat.billing.repository import CodeRepository, CreditRepository, StoredCode
from simplechat.billing.repository.codes import NewCode
from simplechat.billing.rules import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_SHOWN,
    NO_EXPIRY_MS,
    code_id,
    code_refs,
    code_status,
    encode_code,
    expires_at,
    from_ms,
    normalize_code,
    shown_code,
    to_ms,
    window_start_ms,
)
from simplechat.billing.service import CODE_GRACE_MS
from simplechat.billing.types import (
    AdminAction,
    AdminActor,
    AuditRecorder,
    CodeStatus,
    RedeemCode,
    Redeemed,
    no_audit,
    to_credits,
)
from simplechat.kit.errors import InvalidInput, RateLimited
from simplechat.kit.pagination import Paged, PageParams

CODE_BITS = CODE_LENGTH * (len(CODE_ALPHABET).bit_length() - 1)  # 28 symbols of 5 bits: 140
REDEEM_LIMIT_CODE = "redeem_limit"
NOT_A_CODE = (
    f"That is not a redeem code: a code has {CODE_LENGTH} letters and digits, "
    "usually written in groups of 4 (XXXX-XXXX-...)."
)


@dataclass(frozen=True, slots=True)
class RedeemPolicy:
    enabled: bool  # credits are on
    attempts: int  # failed attempts per user per window
    window_seconds: int


class CodeService:
    def __init__(
        self,
        *,
        codes: CodeRepository,
        credits: CreditRepository,
        balances: Balances,
        policy: RedeemPolicy,
        audit: AuditRecorder = no_audit,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._codes = codes
        self._audit = audit
        self._credits = credits
        self._balances = balances
        self._policy = policy
        self._clock = clock

    def _require_enabled(self) -> None:
        if not self._policy.enabled:
            raise CreditsDisabled()

    # --- admins ---
    async def create(
        self,
        *,
        credits: int,
        count: int,
        expires: datetime | None,
        note: str | None,
        by: AdminActor,
    ) -> list[RedeemCode]:
        """`count` new codes worth `credits` units each (random, 140 bits)."""
        self._require_enabled()
        now = from_ms(to_ms(self._clock()))
        if expires is not None and expires <= now:
            raise InvalidInput("expires_at must be in the future.")
        expires_ms = NO_EXPIRY_MS if expires is None else to_ms(expires)
        made = [encode_code(secrets.randbits(CODE_BITS)) for _ in range(count)]
        new = [
            NewCode(code_id(code), code[:CODE_SHOWN], credits, note, now, by.id, expires_ms)
            for code in made
        ]
        await self._codes.insert(new)
        details = {"count": count, "credits": str(to_credits(credits)), "note": note}
        await self._audit(AdminAction(by, "codes.create", details=details))
        return [
            RedeemCode(
                id=c.id,
                prefix=c.prefix,
                code=code,  # shown this once
                credits=credits,
                status=CodeStatus.UNUSED,
                created_at=now,
                created_by=by.id,
                expires_at=expires,
                note=note,
                used_by=None,
                used_by_name=None,
                used_at=None,
            )
            for code, c in zip(made, new, strict=True)
        ]

    async def page(self, status: CodeStatus | None, params: PageParams) -> Paged[RedeemCode]:
        """Codes newest first, all or of one status."""
        self._require_enabled()
        now_ms = to_ms(self._clock())
        found = await self._codes.page(status, now_ms=now_ms, params=params)
        return Paged([self._public(c, now_ms) for c in found.items], found.total, params)

    async def get(self, text: str) -> RedeemCode:
        self._require_enabled()
        return self._public(await self._find(text), to_ms(self._clock()))

    async def disable(self, text: str, *, by: AdminActor) -> RedeemCode:
        """Disable an unused code (expired ones too); disabling it again changes nothing;
        a used code cannot be disabled (409)."""
        self._require_enabled()
        found = await self._find(text)
        now_ms = to_ms(self._clock())
        if found.status == CodeStatus.USED:
            raise CodeUsed("This redeem code has been used: it can no longer be disabled.")
        disabled = await self._codes.disable(found.id, by=by.id, now_ms=now_ms)
        if disabled is not None:
            shown = {"code": shown_code(found.prefix)}  # never the code
            await self._audit(
                AdminAction(by, "code.disable", target_id=found.public_id, details=shown)
            )
        return self._public(disabled or await self._find(text), now_ms)

    async def _find(self, text: str) -> StoredCode:
        """The code `text` is, or whose listed id it is (404 when none)."""
        refs = code_refs(text)
        found = None if refs is None else await self._codes.find(refs)
        if found is None and refs is not None and len(refs) == 1:  # an id: maybe an older code
            found = await self._codes.legacy_by_hash(refs[0])
        if found is None:
            raise CodeNotFound()
        return found

    @staticmethod
    def _public(code: StoredCode, now_ms: int) -> RedeemCode:
        return RedeemCode(
            id=code.public_id,
            prefix=code.prefix,
            code=None,
            credits=code.credits,
            status=code_status(code.status, code.expires_ms, now_ms),
            created_at=code.created_at,
            created_by=code.created_by,
            expires_at=expires_at(code.expires_ms),
            note=code.note,
            used_by=code.used_by,
            used_by_name=code.used_by_name,
            used_at=None if code.used_ms is None else from_ms(code.used_ms),
        )

    # --- users ---
    async def redeem(self, *, user_id: str, username: str, text: str) -> Redeemed:
        """Use a code: its credits go to the caller's balance. 404 unknown, 409 used or
        disabled, 410 expired, 429 too many attempts."""
        self._require_enabled()
        code = normalize_code(text)
        if code is None:
            raise InvalidInput(NOT_A_CODE)
        refs = (code_id(code), code)  # hashed, or made before codes were
        await self._balances.balance(user_id)  # opens the account on first sight
        now_ms = to_ms(self._clock())
        window = await self._count_attempt(user_id, now_ms)
        claimed = await self._codes.claim(refs, user_id=user_id, username=username, now_ms=now_ms)
        if claimed is None:
            raise await self._refusal(refs, now_ms)
        balance = await self._balances.credit_code(claimed)
        await self._credits.give_back_attempt(user_id, window=window)
        return Redeemed(code=code, credits=claimed.credits, balance=balance)

    async def _count_attempt(self, user_id: str, now_ms: int) -> int:
        window_ms = self._policy.window_seconds * 1000
        window = window_start_ms(now_ms, window_ms)
        limit = self._policy.attempts
        if not await self._credits.claim_attempt(user_id, window=window, limit=limit):
            raise RateLimited(
                f"Too many redeem attempts: at most {limit} failed attempts in "
                f"{self._policy.window_seconds} seconds. Try again later.",
                limit_code=REDEEM_LIMIT_CODE,
                retry_after=math.ceil((window + window_ms - now_ms) / 1000),
                extra={"limit": limit},
            )
        return window

    async def _refusal(self, refs: tuple[str, ...], now_ms: int) -> Exception:
        found = await self._codes.find(refs)
        if found is None:
            return CodeNotFound()
        if found.status == CodeStatus.DISABLED:
            return CodeDisabled()
        if found.status == CodeStatus.USED:
            if found.credit_due and (found.used_ms or 0) < now_ms - CODE_GRACE_MS:
                await self._balances.credit_code(found)  # never finished: finish it
            return CodeUsed()
        return CodeExpired()
