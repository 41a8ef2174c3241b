"""OpenAI's embeddings request and answer (field names exist only here, at the edge)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simplechat.embeddings.rules import as_base64
from simplechat.embeddings.types import EmbeddingRequest, EmbeddingResult, Input

MAX_DIMENSIONS = 8192


class EmbeddingCreate(BaseModel):
    """OpenAI's embeddings request; fields simplechat does not know are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, examples=["text-embedding-v4"])
    input: str | list[str] | list[int] | list[list[int]] = Field(
        examples=["The food was delicious and the waiter was friendly."],
        description="A text, a list of texts, or token ids (cl100k_base) of one or several",
    )
    encoding_format: Literal["float", "base64"] = Field(
        default="float", description="base64: each vector as little-endian float32"
    )
    dimensions: int | None = Field(default=None, ge=1, le=MAX_DIMENSIONS)
    user: str | None = None
    # LiteLLM's name: a `dimensions` the model cannot take is dropped instead of refused.
    drop_params: bool | None = None

    def to_domain(self) -> EmbeddingRequest:
        return EmbeddingRequest(
            model=self.model,
            inputs=self._inputs(),
            dimensions=self.dimensions,
            user=self.user,
            drop_unsupported=bool(self.drop_params),
        )

    def _inputs(self) -> tuple[Input, ...]:
        value = self.input
        if isinstance(value, str):
            return (value,)
        out: list[Input] = []
        ids: list[int] = []  # one list of token ids: a single input
        for item in value:
            if isinstance(item, int):
                ids.append(item)
            else:
                out.append(item if isinstance(item, str) else tuple(item))
        return (tuple(ids),) if ids else tuple(out)


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="Floats, or base64 when asked")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int = Field(examples=[11])
    total_tokens: int = Field(examples=[11])


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str = Field(examples=["text-embedding-v4"])
    usage: EmbeddingUsage

    @classmethod
    def from_domain(cls, result: EmbeddingResult, encoding_format: str) -> "EmbeddingList":
        encode: Any = as_base64 if encoding_format == "base64" else list
        tokens = result.usage.prompt_tokens
        return cls(
            data=[
                EmbeddingData(index=index, embedding=encode(vector))
                for index, vector in enumerate(result.vectors)
            ],
            model=result.model,
            usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
        )


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None
    param: Any = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail
