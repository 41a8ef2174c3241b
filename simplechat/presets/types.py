"""Presets as the rest of the code sees them: a prompt (system and few-shot messages) and
model parameters, public or one user's own."""

from dataclasses import dataclass, replace
from datetime import datetime

from simplechat.llm.types import Role


@dataclass(frozen=True, slots=True)
class PresetMessage:
    role: Role
    content: str
    visible: bool = True  # False: sent to the model, never shown to who cannot edit the preset


@dataclass(frozen=True, slots=True)
class PresetParams:
    """None means the conversation's or the server's default."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class PresetDraft:
    """What a user asks to create."""

    name: str
    description: str = ""
    messages: tuple[PresetMessage, ...] = ()
    params: PresetParams = PresetParams()
    public: bool = False


@dataclass(frozen=True, slots=True)
class Preset:
    id: str
    name: str
    description: str
    messages: tuple[PresetMessage, ...]
    params: PresetParams
    public: bool
    owner_id: str
    builtin: str | None  # "plain" or "caring" for the two seeded from the settings
    created_at: datetime
    updated_at: datetime

    def visible_only(self) -> "Preset":
        """The preset without its invisible messages."""
        return replace(self, messages=tuple(m for m in self.messages if m.visible))
