"""The embeddings service, as an Annotated alias."""

from typing import Annotated

from fastapi import Depends, Request

from simplechat.embeddings.service import EmbeddingService


async def get_embedding_service(request: Request) -> EmbeddingService:
    service: EmbeddingService = request.state.embeddings
    return service


EmbeddingServiceDep = Annotated[EmbeddingService, Depends(get_embedding_service)]
