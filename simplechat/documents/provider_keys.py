"""The `provider_keys` collection: a user's own provider API keys (bring your own key).

The key is stored encrypted (Fernet, with the server's secrets key) and only its last four
characters in clear. `slot` is `<user id>:<provider>`, unique: one key per user and provider
(one single-field index; the embedded server does not use compound ones).
"""

from beanie import Document
from pymongo import ASCENDING, IndexModel


class ProviderKeyDoc(Document):
    slot: str  # "<user id>:<provider>"
    user_id: str
    provider: str
    secret: str  # the Fernet token of the key
    last4: str
    updated_ms: int

    class Settings:
        name = "provider_keys"
        indexes = [
            IndexModel([("slot", ASCENDING)], unique=True, name="slot_unique"),
            IndexModel([("user_id", ASCENDING)], name="user"),
        ]
