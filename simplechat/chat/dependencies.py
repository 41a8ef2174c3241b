"""The chat services, as Annotated aliases."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.chat.conversations import ConversationService
from simplechat.chat.service import ChatService


async def get_chat_service(request: Request) -> ChatService:
    service: ChatService = request.state.chat
    return service


async def get_conversation_service(request: Request) -> ConversationService:
    service: ConversationService = request.state.conversations
    return service


async def get_drop_unsupported(request: Request) -> bool:
    """Whether the server drops what a model cannot take (SIMPLECHAT_DROP_UNSUPPORTED_PARAMS)
    instead of refusing it."""
    return bool(getattr(request.app.state.settings, "drop_unsupported_params", False))


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
DropUnsupported = Annotated[bool, Depends(get_drop_unsupported)]
ConversationServiceDep = Annotated[ConversationService, Depends(get_conversation_service)]
