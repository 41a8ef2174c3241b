"""The `credit_accounts` collection: one document per user (`_id` = the user's id as hex), the
balance and everything that must change atomically with it.

    available   units the user can spend now (never below zero)
    on_hold     units reserved by holds in flight; the balance is available + on_hold
    holds       ids of the holds counted in on_hold: settling or releasing one pulls it in
                the same update that moves its money, so each hold closes exactly once
    redeemed    codes credited to this account: the guard that credits each code once
    journal     ledger entries applied here but not yet copied into `ledger`, as JSON
                strings (the embedded server stores sub-documents pushed into arrays as
                strings anyway; strings compare exactly everywhere); journal_n counts them
    att_w/att_n the redeem attempts of the current window (its start, epoch ms; the count)

No multi-document transactions: each change of money is one conditional update of this
document, and its ledger entry is written ahead into `journal` by that same update, then
copied into `ledger` (idempotent: keyed) and pulled. A crash in between leaves the entry in
the journal, where the sweeper (or the account's next visit) finds it.
"""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from simplechat.documents.base import utcnow


class CreditAccountDoc(Document):
    id: str  # type: ignore[assignment]  # the user's id (hex), not an ObjectId
    available: int = 0
    on_hold: int = 0
    holds: list[str] = Field(default_factory=list)
    redeemed: list[str] = Field(default_factory=list)
    journal: list[str] = Field(default_factory=list)
    journal_n: int = 0
    att_w: int = 0
    att_n: int = 0
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "credit_accounts"
        indexes = [IndexModel([("journal_n", ASCENDING)], name="journal_n")]
