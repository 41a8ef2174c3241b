"""Beanie documents: one module per collection, the only place the database's shape is declared.

Only repositories (and `kit/db.py`) import this package.

References to other documents (owner, conversation, reply) are stored as hex strings: the
embedded server cannot match ObjectId-valued fields other than `_id` by equality.

Times that are only written once at insert are BSON dates. Times that are rewritten by
`find_one_and_update` (the burst-limit slots in `UserDoc.lim`) are integer epoch milliseconds:
they compare the same way everywhere, and the embedded server stores a date set through
`$set` as a string.
"""

from beanie import Document

from simplechat.documents.credit_accounts import CreditAccountDoc
from simplechat.documents.holds import HoldDoc
from simplechat.documents.ledger import LedgerDoc
from simplechat.documents.limit_refusals import LimitRefusalDoc
from simplechat.documents.messages import MessageDoc
from simplechat.documents.redeem_codes import RedeemCodeDoc
from simplechat.documents.usage_records import UsageRecordDoc
from simplechat.documents.users import UserDoc

DOCUMENT_MODELS: list[type[Document]] = [
    UserDoc,
    MessageDoc,
    LimitRefusalDoc,
    CreditAccountDoc,
    LedgerDoc,
    HoldDoc,
    RedeemCodeDoc,
    UsageRecordDoc,
]
