"""Who sees and who changes a preset: table tests, no fixtures."""

from datetime import UTC, datetime

import pytest

from simplechat.accounts.types import User
from simplechat.llm.types import Role
from simplechat.presets.rules import CARING, PLAIN, builtin_presets, can_edit, can_see, shown_to
from simplechat.presets.types import Preset, PresetMessage, PresetParams

T0 = datetime(2026, 11, 21, tzinfo=UTC)
ADMIN = User("a", "root", "admin", T0)
ERIC = User("e", "eric", "user", T0)
MALLORY = User("m", "mallory", "user", T0)
MESSAGES = (
    PresetMessage(Role.SYSTEM, "hidden instructions", visible=False),
    PresetMessage(Role.ASSISTANT, "Hello!"),
)


def preset(*, public: bool, owner: str = "e") -> Preset:
    return Preset("p", "P", "", MESSAGES, PresetParams(), public, owner, None, T0, T0)


@pytest.mark.parametrize(
    ("user", "public", "sees", "edits"),
    [
        (ERIC, False, True, True),  # the owner of a private preset
        (MALLORY, False, False, False),  # anyone else: it does not exist for them
        (ADMIN, False, False, False),  # admins too: private means private
        (MALLORY, True, True, False),  # a public preset: everyone uses it
        (ERIC, True, True, False),  # even its creator, once it is public, unless admin
        (ADMIN, True, True, True),  # admins manage public presets
    ],
)
def test_who_sees_and_who_edits(user: User, public: bool, sees: bool, edits: bool) -> None:
    target = preset(public=public)

    assert can_see(user.id, target) == sees
    assert can_edit(user, target) == edits
    shown = shown_to(user, target)
    assert shown.messages == (MESSAGES if edits else MESSAGES[1:])


def test_builtin_presets_come_from_the_two_prompts() -> None:
    plain, caring = builtin_presets("Be helpful.", "Be kind.")

    assert (plain.key, caring.key) == (PLAIN, CARING)
    assert plain.messages == (PresetMessage(Role.SYSTEM, "Be helpful.", visible=False),)
    assert caring.messages == (PresetMessage(Role.SYSTEM, "Be kind.", visible=False),)
