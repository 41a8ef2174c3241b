"""Balances: the money primitives every billing operation shares.

Each change of a balance is one conditional update of the user's credit account that also
writes its ledger entry ahead into the account's journal (see documents/credit_accounts.py);
`_write` then copies the entry into the ledger (keyed: a second copy is a no-op) and takes it
off the journal. Whatever a crash interrupts is finished by the next visit to the account
(`balance`) or by the sweeper (`write_journals`).
"""

from collections.abc import Callable
from datetime import UTC, datetime

from simplechat.billing.repository import CodeRepository, CreditRepository, StoredCode
from simplechat.billing.repository.credits import entry_of, journal_line
from simplechat.billing.rules import from_ms, shown_code, to_ms
from simplechat.billing.types import Balance, EntryKind, LedgerEntry


class Balances:
    def __init__(
        self,
        *,
        credits: CreditRepository,
        codes: CodeRepository,
        signup_units: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._credits = credits
        self._codes = codes
        self._signup = signup_units
        self._clock = clock

    def now(self) -> datetime:
        """Now, to the millisecond: what the ledger keeps of a time."""
        return from_ms(to_ms(self._clock()))

    async def balance(self, user_id: str) -> Balance:
        """The user's balance; the account is opened (with the signup credits, written in the
        same insert) the first time billing sees it, once however many requests race."""
        account = await self._credits.find(user_id)
        if account is None:
            journal: list[str] = []
            if self._signup > 0:
                entry = LedgerEntry(
                    f"signup:{user_id}", user_id, EntryKind.SIGNUP, self._signup, self.now()
                )
                journal = [journal_line(entry)]
            await self._credits.create(user_id, available=self._signup, journal=journal)
            account = await self._credits.find(user_id)
            assert account is not None
        for line in account.journal:  # entries a crash left unwritten (or being written now)
            await self._write(entry_of(line), line)
        return account.balance

    async def apply(
        self, entry: LedgerEntry, *, min_available: int | None = None, code: str | None = None
    ) -> Balance | None:
        """Add `entry.delta` and write the entry; None when the guards refuse (less than
        `min_available` available, or `code` already credited to this account)."""
        balance = await self._credits.apply(entry, min_available=min_available, code=code)
        if balance is not None:
            await self._write(entry, journal_line(entry))
        return balance

    async def write(self, entry: LedgerEntry) -> None:
        """Write an entry whose money already moved (its journal line is `journal_line`)."""
        await self._write(entry, journal_line(entry))

    async def credit_code(self, code: StoredCode) -> Balance:
        """Credit a used code to the account that used it, exactly once however often this
        runs (the account remembers the codes credited to it)."""
        assert code.used_by is not None
        assert code.used_ms is not None
        user_id = code.used_by
        await self.balance(user_id)
        entry = LedgerEntry(
            f"redeem:{code.id}",
            user_id,
            EntryKind.REDEEM,
            code.credits,
            from_ms(code.used_ms),
            reference=shown_code(code.prefix),
        )
        balance = await self.apply(entry, code=code.id) or await self.balance(user_id)
        await self._codes.mark_credited(code.id)
        return balance

    async def write_journals(self, limit: int) -> int:
        """Write the journal entries of up to `limit` accounts; how many were written."""
        written = 0
        for _user_id, lines in await self._credits.with_journal(limit):
            for line in lines:
                await self._write(entry_of(line), line)
                written += 1
        return written

    async def _write(self, entry: LedgerEntry, line: str) -> None:
        await self._credits.write_ledger(entry)
        await self._credits.clear_journal(entry.user_id, line)
