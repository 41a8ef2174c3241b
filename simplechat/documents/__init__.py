"""Beanie documents: one module per collection, the only place the database's shape is declared.

Only repositories (and `kit/db.py`, and `kit/iplimit.py` for the per-IP counters) import this
package.

References to other documents (owner, conversation, reply) are stored as hex strings: the
embedded server cannot match ObjectId-valued fields other than `_id` by equality.

Times that are only written once at insert are BSON dates. Times that are rewritten by an
update (the burst-limit slots in `UserDoc.lim`, `UserDoc.active_ms`, `AvatarDoc.updated_ms`,
`IpLimitDoc.exp_ms`, `ApiKeyDoc.last_used_ms`, conversations' and presets' `updated_ms`,
`TaskDoc.lease_ms`) are
integer epoch milliseconds:
they compare the same way everywhere, and the embedded server stores a date set through `$set`
as a string.
"""

from beanie import Document

from simplechat.documents.api_keys import ApiKeyDoc
from simplechat.documents.audit_log import AuditEntryDoc
from simplechat.documents.avatars import AvatarDoc
from simplechat.documents.conversations import ConversationDoc
from simplechat.documents.credit_accounts import CreditAccountDoc
from simplechat.documents.holds import HoldDoc
from simplechat.documents.ip_limits import IpLimitDoc
from simplechat.documents.ledger import LedgerDoc
from simplechat.documents.limit_refusals import LimitRefusalDoc
from simplechat.documents.media_overrides import MediaOverridesDoc
from simplechat.documents.media_results import MediaResultDoc
from simplechat.documents.media_usage import MediaUsageDoc
from simplechat.documents.messages import MessageDoc
from simplechat.documents.presets import PresetDoc
from simplechat.documents.provider_keys import ProviderKeyDoc
from simplechat.documents.redeem_codes import RedeemCodeDoc
from simplechat.documents.refresh_tokens import RefreshTokenDoc
from simplechat.documents.role_counts import RoleCountDoc
from simplechat.documents.tasks import TaskDoc
from simplechat.documents.usage_records import UsageRecordDoc
from simplechat.documents.users import UserDoc

DOCUMENT_MODELS: list[type[Document]] = [
    UserDoc,
    MessageDoc,
    ConversationDoc,
    PresetDoc,
    LimitRefusalDoc,
    MediaResultDoc,
    MediaUsageDoc,
    MediaOverridesDoc,
    RefreshTokenDoc,
    AvatarDoc,
    RoleCountDoc,
    AuditEntryDoc,
    IpLimitDoc,
    ApiKeyDoc,
    ProviderKeyDoc,
    CreditAccountDoc,
    LedgerDoc,
    HoldDoc,
    RedeemCodeDoc,
    UsageRecordDoc,
    TaskDoc,
]
