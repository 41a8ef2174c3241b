"""The `role_counts` collection: how many admins there are, as a lower bound.

One document, `{"_id": "admin", "n": <count>}`. Removing an admin first takes one from `n`
with the condition `n > 1` (one conditional update), then changes the user; adding one changes
the user first, then adds to `n`. So `n` never exceeds the real number of admins, and the last
admin can never be removed, whatever runs in parallel.
"""

from beanie import Document


class RoleCountDoc(Document):
    id: str  # type: ignore[assignment]  # the role ("admin")
    n: int = 0

    class Settings:
        name = "role_counts"
