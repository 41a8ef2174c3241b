"""The chat service, as an Annotated alias."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.chat.service import ChatService


async def get_chat_service(request: Request) -> ChatService:
    service: ChatService = request.state.chat
    return service


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]
