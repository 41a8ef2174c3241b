"""MockProvider: labelled, deterministic, no network."""

from simplechat.llm.mock import MockProvider
from simplechat.llm.types import (
    ChatMessage,
    ContentPart,
    GenerationParams,
    ModelSpec,
    PartType,
    Role,
    StreamChunk,
    Usage,
)

MODEL = ModelSpec("mistralai/mistral-7b-instruct", "openrouter", "mistral", 32768, 4096)
MESSAGES = [
    ChatMessage(Role.SYSTEM, "Be nice."),
    ChatMessage(Role.USER, "earlier message"),
    ChatMessage(Role.ASSISTANT, "earlier answer"),
    ChatMessage(Role.USER, "hi, my name is Eric"),
]
PARAMS = GenerationParams(max_tokens=1024)


async def test_reply_is_labelled_and_echoes_the_last_user_message() -> None:
    completion = await MockProvider().complete(MODEL, MESSAGES, PARAMS)

    assert completion.text.startswith('[mock] You said: "hi, my name is Eric". (')
    assert "No provider is configured" in completion.text
    for way in ("OPENROUTER_API_KEY", "DASHSCOPE_API_KEY", "SIMPLECHAT_OPENAI_BASE_URL"):
        assert way in completion.text
    assert MODEL.name in completion.text
    assert completion.model == MODEL.name
    assert completion.finish_reason == "stop"


async def test_usage_is_a_word_count() -> None:
    completion = await MockProvider().complete(MODEL, MESSAGES, PARAMS)

    words = len(completion.text.split())
    assert completion.usage == Usage(prompt_tokens=11, completion_tokens=words)


async def test_stream_yields_the_same_text_word_by_word() -> None:
    provider = MockProvider()
    completion = await provider.complete(MODEL, MESSAGES, PARAMS)
    chunks = [c async for c in provider.stream(MODEL, MESSAGES, PARAMS)]

    assert "".join(c.delta for c in chunks) == completion.text
    assert chunks[0] == StreamChunk(delta="[mock] ")
    assert len(chunks) == len(completion.text.split()) + 1
    assert chunks[-1] == StreamChunk(finish_reason="stop", usage=completion.usage)


async def test_max_tokens_cuts_the_answer() -> None:
    completion = await MockProvider().complete(MODEL, MESSAGES, GenerationParams(max_tokens=4))

    assert completion.text == '[mock] You said: "hi,'
    assert completion.finish_reason == "length"


async def test_note_and_long_echo() -> None:
    long_message = [ChatMessage(Role.USER, "word " * 100)]
    provider = MockProvider(note="Mock model {model}.")
    completion = await provider.complete(MODEL, long_message, PARAMS)

    assert completion.text.endswith(f'...". (Mock model {MODEL.name}.)')
    assert len(completion.text) < 300


async def test_delay_between_words() -> None:
    provider = MockProvider(delay=0.001)
    chunks = [c async for c in provider.stream(MODEL, MESSAGES, PARAMS)]

    assert chunks[-1].finish_reason == "stop"


async def test_images_are_counted_in_the_echo() -> None:
    parts = (
        ContentPart(PartType.TEXT, text="look"),
        ContentPart(PartType.IMAGE_URL, url="https://example.com/a.png"),
        ContentPart(PartType.IMAGE_URL, url="https://example.com/b.png"),
    )
    message = ChatMessage(Role.USER, "look", parts=parts)

    completion = await MockProvider().complete(MODEL, [message], PARAMS)

    assert completion.text.startswith('[mock] You said: "look" and 2 images.')
