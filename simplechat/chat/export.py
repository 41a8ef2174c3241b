"""A conversation as Markdown: its title, its totals and every visible message, oldest first.
Pure formatting; images are links (a data: URL is named, not inlined)."""

from collections.abc import Sequence
from datetime import datetime

from simplechat.chat.types import Conversation, StoredMessage
from simplechat.llm.types import ContentPart, PartType, Role

SPEAKERS = {Role.USER: "You", Role.ASSISTANT: "Assistant", Role.SYSTEM: "System"}


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _parts(text: str, parts: Sequence[ContentPart] | None) -> str:
    if parts is None:
        return text
    pieces = []
    for part in parts:
        if part.type is PartType.TEXT:
            pieces.append(part.text)
        elif part.url.startswith("data:"):
            pieces.append("*(an image sent inline)*")
        else:
            pieces.append(f"![image]({part.url})")
    return "\n\n".join(pieces)


def to_markdown(conversation: Conversation, messages: Sequence[StoredMessage]) -> str:
    lines = [
        f"# {conversation.title}",
        "",
        f"- Model: {conversation.model or 'the server default'}",
        f"- Messages: {conversation.message_count}; tokens: {conversation.input_tokens} in, "
        f"{conversation.output_tokens} out, {conversation.total_tokens} in all",
        f"- Created {_when(conversation.created_at)}, updated {_when(conversation.updated_at)}",
    ]
    preset = conversation.preset
    if preset is not None:
        lines.append(f"- Preset: {preset.name}")
        for shown in (m for m in preset.messages if m.visible):
            lines += ["", f"## {SPEAKERS[shown.role]} (preset)", "", shown.content]
    for message in messages:
        speaker = SPEAKERS[message.role]
        if message.role is Role.ASSISTANT and message.model:
            speaker += f" ({message.model})"
        note = "" if message.status.value == "complete" else f" · {message.status.value}"
        lines += ["", f"## {speaker} · {_when(message.created_at)}{note}", ""]
        lines.append(_parts(message.text, message.parts))
    return "\n".join(lines) + "\n"
