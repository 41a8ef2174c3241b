"""What can go wrong with presets (see the tree in kit/errors.py)."""

from simplechat.kit.errors import Conflict, NotFound


class PresetNotFound(NotFound):
    code = "preset_not_found"
    default_message = "No such preset."


class PresetReadOnly(Conflict):
    code = "preset_read_only"
    default_message = (
        "Built-in presets come from the server's settings (SIMPLECHAT_SYSTEM_PROMPT, "
        "SIMPLECHAT_ADVANCED_PROMPT): change them there."
    )
