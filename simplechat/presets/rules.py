"""Who may see and change a preset, and the two built-in presets: pure decisions."""

from dataclasses import dataclass

from simplechat.accounts.types import User
from simplechat.llm.types import Role
from simplechat.presets.types import Preset, PresetMessage

ADMIN_ROLE = "admin"
PLAIN = "plain"
CARING = "caring"


@dataclass(frozen=True, slots=True)
class BuiltinPreset:
    key: str
    name: str
    description: str
    messages: tuple[PresetMessage, ...]


def builtin_presets(system_prompt: str, caring_prompt: str) -> tuple[BuiltinPreset, ...]:
    """The personas of /llm/message and /llm/message/advanced, as public presets."""
    return (
        BuiltinPreset(
            PLAIN,
            "Assistant",
            "A helpful assistant that answers clearly and concisely (the persona of /llm/message).",
            (PresetMessage(Role.SYSTEM, system_prompt, visible=False),),
        ),
        BuiltinPreset(
            CARING,
            "Caring companion",
            "A warm, caring companion (the persona of /llm/message/advanced).",
            (PresetMessage(Role.SYSTEM, caring_prompt, visible=False),),
        ),
    )


def can_see(user_id: str, preset: Preset) -> bool:
    return preset.public or preset.owner_id == user_id


def can_edit(user: User, preset: Preset) -> bool:
    """Public presets are the admins'; private ones their owner's. (Built-ins are nobody's:
    the settings own them.)"""
    if preset.public:
        return user.role == ADMIN_ROLE
    return preset.owner_id == user.id


def shown_to(user: User, preset: Preset) -> Preset:
    """What `user` sees of a preset: every message if they may edit it, else the visible ones."""
    return preset if can_edit(user, preset) else preset.visible_only()
