"""ConversationService: a user's conversations and their messages (chatting into one is
ChatService's). Another user's conversation, or an id that does not exist or is not an id at
all, is ConversationNotFound: existence is never revealed."""

from collections.abc import Mapping
from typing import Any

from simplechat.chat.errors import ConversationNotFound
from simplechat.chat.repository.conversations import ConversationRepository, snapshot_doc
from simplechat.chat.repository.messages import MessageRepository
from simplechat.chat.rules import UNTITLED
from simplechat.chat.types import (
    Conversation,
    ConversationPage,
    PresetSnapshot,
    StoredMessage,
)
from simplechat.kit.errors import InvalidInput
from simplechat.kit.pagination import Paged, PageParams
from simplechat.llm.registry import ProviderRegistry
from simplechat.presets.service import PresetService

# What PATCH may change; the default conversation takes each request's model and parameters.
SETTINGS = frozenset({"model", "temperature", "top_p", "max_tokens"})
CHANGEABLE = SETTINGS | {"title"}
FIRST_PAGE = PageParams(page=1, page_size=20)


class ConversationService:
    def __init__(
        self,
        *,
        conversations: ConversationRepository,
        messages: MessageRepository,
        presets: PresetService,
        registry: ProviderRegistry,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._presets = presets
        self._registry = registry

    async def create(
        self,
        user_id: str,
        *,
        title: str | None = None,
        preset_id: str | None = None,
        model: str | None = None,
    ) -> Conversation:
        """A new conversation; made from a preset, it keeps a copy of the preset's messages
        and takes its parameters (`model` wins over the preset's)."""
        preset = await self._presets.usable(user_id, preset_id) if preset_id else None
        params = preset.params if preset else None
        chosen = model or (params.model if params else None)
        self._check_model(chosen)
        snapshot = None
        if preset is not None:
            snapshot = PresetSnapshot(preset.id, preset.name, preset.description, preset.messages)
        fields = {
            "title": title or UNTITLED,
            "title_auto": title is None,
            "model": chosen,
            "temperature": params.temperature if params else None,
            "top_p": params.top_p if params else None,
            "max_tokens": params.max_tokens if params else None,
            "preset": snapshot_doc(snapshot) if snapshot else None,
        }
        return await self._conversations.create(user_id, fields)

    async def list_page(
        self, user_id: str, page: PageParams, title_search: str | None = None
    ) -> Paged[Conversation]:
        """The user's conversations, most recently updated first."""
        items, total = await self._conversations.page(
            user_id, title_search=title_search or None, skip=page.skip, limit=page.limit
        )
        return Paged(items, total, page)

    async def get(self, user_id: str, conversation_id: str) -> Conversation:
        conversation = await self._conversations.get(user_id, conversation_id)
        if conversation is None:
            raise ConversationNotFound()
        return conversation

    async def read(self, user_id: str, conversation_id: str) -> ConversationPage:
        """The conversation with the first page of its visible messages."""
        conversation = await self.get(user_id, conversation_id)
        messages, total = await self._messages.page(
            conversation.id, skip=FIRST_PAGE.skip, limit=FIRST_PAGE.limit
        )
        return ConversationPage(conversation, Paged(messages, total, FIRST_PAGE))

    async def messages(
        self, user_id: str, conversation_id: str, page: PageParams
    ) -> Paged[StoredMessage]:
        """A page of the conversation's visible messages, oldest first."""
        conversation = await self.get(user_id, conversation_id)
        items, total = await self._messages.page(conversation.id, skip=page.skip, limit=page.limit)
        return Paged(items, total, page)

    async def update(
        self, user_id: str, conversation_id: str, changes: Mapping[str, Any]
    ) -> Conversation:
        """Change the title, the model or the sampling parameters (None: the default)."""
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))}.")
        if changes.get("title", "") is None:
            raise InvalidInput("title: a conversation keeps a title; send a new one.")
        conversation = await self.get(user_id, conversation_id)
        if conversation.is_default and SETTINGS & set(changes):
            raise InvalidInput(
                "The default conversation uses each request's model and parameters: create a "
                "conversation (POST /conversations) to keep settings."
            )
        self._check_model(changes.get("model"))
        fields = dict(changes)
        if "title" in fields:
            fields["title_auto"] = False
        if not fields:
            return conversation
        updated = await self._conversations.update(user_id, conversation.id, fields)
        if updated is None:
            raise ConversationNotFound()
        return updated

    async def delete(self, user_id: str, conversation_id: str) -> int:
        """Delete the conversation and all its messages; how many messages went with it."""
        conversation = await self.get(user_id, conversation_id)
        # The conversation first: a message answered meanwhile then finds it gone and takes
        # its own messages with it (see TurnRecorder).
        if not await self._conversations.delete(user_id, conversation.id):
            raise ConversationNotFound()
        return await self._messages.delete_conversation(conversation.id)

    async def delete_owner_data(self, user_id: str) -> None:
        """Forget a deleted user's conversations and messages."""
        await self._messages.delete_owner(user_id)
        await self._conversations.delete_owner(user_id)

    async def export(
        self, user_id: str, conversation_id: str
    ) -> tuple[Conversation, list[StoredMessage]]:
        """The conversation and every visible message, oldest first."""
        conversation = await self.get(user_id, conversation_id)
        return conversation, [m async for m in self._messages.visible(conversation.id)]

    def _check_model(self, model: str | None) -> None:
        if model is not None:
            self._registry.resolve(model)  # InvalidInput (422) naming the available models
