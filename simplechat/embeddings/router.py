"""OpenAI's embeddings, `POST /v1/embeddings`: point the openai SDK (or LangChain's
OpenAIEmbeddings) at /v1 with your simplechat token or a personal key."""

from typing import Any

from fastapi import APIRouter

from simplechat.embeddings.dependencies import EmbeddingServiceDep
from simplechat.embeddings.schemas import EmbeddingCreate, EmbeddingList, OpenAIError
from simplechat.keys.dependencies import CurrentCaller

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

EMBEDDING_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIError, "description": "An error in OpenAI's shape"}
    for status in (400, 401, 403, 422, 429, 502, 503, 504)
}


@router.post(
    "/embeddings",
    response_model=EmbeddingList,
    summary="Embeddings (OpenAI-compatible)",
    responses=EMBEDDING_ERRORS,
)
async def create_embeddings(
    body: EmbeddingCreate, caller: CurrentCaller, embeddings: EmbeddingServiceDep
) -> EmbeddingList:
    """One vector per input, from an embedding model of GET /v1/models (kind "embedding");
    counted like a chat message against your limits and your API key's caps."""
    result = await embeddings.embed(
        caller.user_id, body.to_domain(), caller.key, epoch=caller.epoch
    )
    return EmbeddingList.from_domain(result, body.encoding_format)
