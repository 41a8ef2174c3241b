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


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
ConversationServiceDep = Annotated[ConversationService, Depends(get_conversation_service)]
