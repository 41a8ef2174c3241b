"""Presets: a prompt (system and few-shot messages) plus model parameters, public (managed by
admins) or a user's own. The two built-in personas are public presets seeded at every start
from the settings, which own them (they cannot be changed through the API)."""

from collections.abc import Sequence
from typing import Any

from simplechat.accounts.types import User
from simplechat.kit.errors import Forbidden, InvalidInput
from simplechat.kit.pagination import Paged, PageParams
from simplechat.llm.registry import ProviderRegistry
from simplechat.presets.errors import PresetNotFound, PresetReadOnly
from simplechat.presets.repository import PresetRepository, message_docs, params_fields
from simplechat.presets.rules import BuiltinPreset, can_edit, can_see, shown_to
from simplechat.presets.types import Preset, PresetDraft, PresetMessage, PresetParams


class PresetService:
    def __init__(
        self,
        *,
        repo: PresetRepository,
        registry: ProviderRegistry,
        builtins: Sequence[BuiltinPreset],
    ) -> None:
        self._repo = repo
        self._registry = registry
        self._builtins = tuple(builtins)

    async def seed_builtins(self) -> None:
        """Create or refresh the built-in presets from the settings (idempotent)."""
        for builtin in self._builtins:
            await self._repo.put_builtin(
                builtin.key,
                name=builtin.name,
                description=builtin.description,
                messages=builtin.messages,
            )

    async def create(self, user: User, draft: PresetDraft) -> Preset:
        if draft.public and user.role != "admin":
            raise Forbidden("Only admins create public presets; leave out `public` for your own.")
        self._check_model(draft.params)
        return await self._repo.create(user.id, draft)

    async def delete_owner_data(self, user_id: str) -> None:
        """Forget a deleted user's private presets."""
        await self._repo.delete_private(user_id)

    async def list_visible(self, user: User, page: PageParams) -> Paged[Preset]:
        """The public presets and the user's own, public first."""
        items, total = await self._repo.page(user.id, skip=page.skip, limit=page.limit)
        return Paged([shown_to(user, preset) for preset in items], total, page)

    async def get(self, user: User, preset_id: str) -> Preset:
        return shown_to(user, await self.usable(user.id, preset_id))

    async def usable(self, user_id: str, preset_id: str) -> Preset:
        """A preset the user may use (public or their own), whole: what a conversation made
        from it keeps. PresetNotFound otherwise."""
        preset = await self._repo.get(preset_id)
        if preset is None or not can_see(user_id, preset):
            raise PresetNotFound()
        return preset

    async def update(
        self,
        user: User,
        preset_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        messages: Sequence[PresetMessage] | None = None,
        params: PresetParams | None = None,
    ) -> Preset:
        """Change what is given (None: unchanged)."""
        await self._editable(user, preset_id)
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = name
        if description is not None:
            fields["description"] = description
        if messages is not None:
            fields["messages"] = message_docs(messages)
        if params is not None:
            self._check_model(params)
            fields.update(params_fields(params))
        updated = await self._repo.update(preset_id, fields) if fields else None
        if updated is None and fields:
            raise PresetNotFound()
        return updated or await self.usable(user.id, preset_id)

    async def delete(self, user: User, preset_id: str) -> None:
        """Delete a preset; conversations made from it keep their copy."""
        await self._editable(user, preset_id)
        if not await self._repo.delete(preset_id):
            raise PresetNotFound()

    async def _editable(self, user: User, preset_id: str) -> Preset:
        preset = await self.usable(user.id, preset_id)
        if preset.builtin is not None:
            raise PresetReadOnly()
        if not can_edit(user, preset):
            raise Forbidden("Public presets are managed by admins.")
        return preset

    def _check_model(self, params: PresetParams) -> None:
        if params.model is None:
            return
        try:
            self._registry.resolve(params.model)
        except InvalidInput as exc:
            raise InvalidInput(f"parameters.model: {exc.message}", extra=exc.extra) from exc
