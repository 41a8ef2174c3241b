"""What the embeddings service takes and gives."""

from dataclasses import dataclass

from simplechat.llm.types import Usage

# One input: a text, or the token ids of one (OpenAI's `[int]` form, cl100k_base ids).
Input = str | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    inputs: tuple[Input, ...]
    dimensions: int | None = None
    user: str | None = None
    drop_unsupported: bool = False  # a `dimensions` the model cannot take is dropped


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    """One vector per input, in input order. `estimated`: the upstream gave no usage, so
    `usage.prompt_tokens` is simplechat's own count of the inputs."""

    model: str
    vectors: tuple[tuple[float, ...], ...]
    usage: Usage
    estimated: bool = False
