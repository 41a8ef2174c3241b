"""`messages` documents: built for the driver, and read back as domain values."""

from collections.abc import Sequence
from typing import Any

from beanie import PydanticObjectId

from simplechat.chat.types import MessageStatus, StoredMessage
from simplechat.documents.base import utcnow
from simplechat.documents.messages import MessageDoc, PartEmbedded, UsageEmbedded
from simplechat.documents.messages import MessageStatus as StoredStatus
from simplechat.llm.types import ChatMessage, ContentPart, PartType, Role

# Fields Beanie adds to every Document that the messages collection does not store.
_NOT_STORED = frozenset({"revision_id"})
_WIRE_STATUS = {
    StoredStatus.SENT: MessageStatus.COMPLETE,
    StoredStatus.COMPLETE: MessageStatus.COMPLETE,
    StoredStatus.INCOMPLETE: MessageStatus.INCOMPLETE,
    StoredStatus.UNANSWERED: MessageStatus.UNANSWERED,
}


def history_key(owner_id: str, created_at_ms: int, message_id: str) -> str:
    return f"{owner_id}:{created_at_ms:013d}:{message_id}"


def message_doc(
    *,
    message_id: str,
    owner_id: str,
    conversation_id: str,
    role: Role,
    text: str,
    tokens: int,
    model: str,
    kind: str,
    status: StoredStatus,
    parts: Sequence[ContentPart] | None = None,
    reply_to: str | None = None,
    usage: UsageEmbedded | None = None,
    cost: int = 0,
) -> dict[str, Any]:
    """A `messages` document, as MessageDoc declares it. Built with `model_construct` (no
    validation: validating every insert cost about 1 ms of CPU per message) and written with
    the driver."""
    created_at = utcnow()
    created_ms = int(created_at.timestamp() * 1000)
    doc = MessageDoc.model_construct(
        id=PydanticObjectId(message_id),
        history_key=history_key(owner_id, created_ms, message_id),
        conversation_key=history_key(conversation_id, created_ms, message_id),
        owner_id=owner_id,
        conversation_id=conversation_id,
        role=role.value,
        text=text,
        parts=None
        if parts is None
        else [
            PartEmbedded.model_construct(type=p.type.value, text=p.text, url=p.url) for p in parts
        ],
        tokens=tokens,
        chars=len(text),
        visible=True,
        model=model,
        kind=kind,
        status=status,
        created_at=created_at,
        reply_to=reply_to,
        usage=usage,
        error_code=None,
        cost=cost,
    )
    stored: dict[str, Any] = doc.model_dump(by_alias=True, exclude=_NOT_STORED)
    return stored


def _parts(raw: Any) -> tuple[ContentPart, ...] | None:
    if not raw:
        return None
    return tuple(
        ContentPart(PartType(p["type"]), p.get("text") or "", p.get("url") or "") for p in raw
    )


def prompt_message(raw: dict[str, Any]) -> ChatMessage:
    return ChatMessage(
        Role(raw["role"]), str(raw["text"]), int(raw.get("tokens") or 0), _parts(raw.get("parts"))
    )


def stored_message(raw: dict[str, Any]) -> StoredMessage:
    role = Role(raw["role"])
    usage = raw.get("usage") or {}
    tokens = int(raw.get("tokens") or 0)
    answer = role is Role.ASSISTANT
    return StoredMessage(
        id=str(raw["_id"]),
        conversation_id=raw.get("conversation_id") or "",
        role=role,
        text=raw["text"],
        parts=_parts(raw.get("parts")),
        visible=bool(raw.get("visible", True)),
        input_tokens=0 if answer else tokens,
        output_tokens=int(usage.get("completion_tokens", tokens)) if answer else 0,
        prompt_tokens=int(usage.get("prompt_tokens", 0)) if answer else 0,
        model=raw.get("model") or "",
        status=_WIRE_STATUS[StoredStatus(raw["status"])],
        created_at=raw["created_at"],
        key=raw.get("conversation_key") or "",
        kind=raw.get("kind") or "plain",
        cost=int(raw.get("cost") or 0),
    )
