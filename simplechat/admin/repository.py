"""AuditRepository: the admin actions in the `audit_log` collection, newest first."""

from typing import Any

from pymongo import DESCENDING

from simplechat.admin.types import Actor, AuditEntry
from simplechat.documents.audit_log import AuditEntryDoc


def _entry(doc: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=str(doc["_id"]),
        at=doc["at"],
        actor=doc["actor"],
        actor_id=doc.get("actor_id"),
        action=doc["action"],
        target=doc.get("target"),
        target_id=doc.get("target_id"),
        ip=doc.get("ip"),
        details=dict(doc.get("details") or {}),
    )


class AuditRepository:
    async def record(
        self,
        *,
        actor: Actor,
        action: str,
        target: str | None,
        target_id: str | None,
        details: dict[str, Any],
    ) -> None:
        await AuditEntryDoc(
            actor_id=actor.id,
            actor=actor.username,
            action=action,
            target=target,
            target_id=target_id,
            ip=actor.ip,
            details=details,
        ).insert()

    async def page(self, *, skip: int, limit: int) -> tuple[list[AuditEntry], int]:
        collection = AuditEntryDoc.get_pymongo_collection()
        cursor = (
            collection.find({})
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        entries = [_entry(doc) async for doc in cursor]
        return entries, await collection.count_documents({})
