"""The chat capability's pure rules: titles, prompt set-up, images, and the Markdown export."""

from datetime import UTC, datetime

import pytest

from simplechat.chat.export import to_markdown
from simplechat.chat.rules import (
    ELLIPSIS,
    IMAGE_TITLE,
    MIN_PROMPT_BUDGET,
    UNTITLED,
    generation_params,
    image_refusal,
    preamble,
    prompt_budget,
    title_from,
)
from simplechat.chat.types import (
    Conversation,
    MessageStatus,
    PresetSnapshot,
    Sampling,
    StoredMessage,
)
from simplechat.llm.types import ChatMessage, ContentPart, ModelSpec, PartType, Role
from simplechat.presets.types import PresetMessage

MODEL = ModelSpec("m", "mock", "m", 8192, 1024)
VISION = ModelSpec("v", "mock", "v", 8192, 1024, takes_images=True)
IMAGE = ContentPart(PartType.IMAGE_URL, url="https://example.com/a.png")
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("hi, my name is Eric", "hi, my name is Eric"),
        ("  several\n\nlines \t of   text ", "several lines of text"),
        ("x" * 50, "x" * 50),  # exactly the limit: whole
        # cut at the last word boundary within 50, trailing punctuation dropped
        (
            "I would like to plan a trip to Lyon in May, with my two children and a dog",
            "I would like to plan a trip to Lyon in May, with" + ELLIPSIS,
        ),
        (
            "word " * 9 + "boundary-at-fifty-one",
            "word word word word word word word word word" + ELLIPSIS,
        ),
        ("a" * 80, "a" * 50 + ELLIPSIS),  # one long word: cut inside it
        ("中文" * 40, "中文" * 25 + ELLIPSIS),
        ("", UNTITLED),
        ("   \n ", UNTITLED),
    ],
)
def test_title_from_the_first_message(text: str, title: str) -> None:
    assert title_from(text) == title
    assert len(title_from(text)) <= 51


def test_a_picture_without_text_is_titled_image() -> None:
    assert title_from("", has_images=True) == IMAGE_TITLE
    assert title_from("what is this?", has_images=True) == "what is this?"


@pytest.mark.parametrize(
    ("samplings", "expected"),
    [
        ((), (1024, None, None)),
        ((Sampling(max_tokens=100),), (100, None, None)),
        ((Sampling(max_tokens=99_999),), (1024, None, None)),  # never above the model's output
        ((Sampling(temperature=0.2), Sampling(temperature=0.9, top_p=0.5)), (1024, 0.2, 0.5)),
        ((Sampling(), Sampling(max_tokens=10, temperature=0.0)), (10, 0.0, None)),
    ],
)
def test_generation_params_take_the_first_given(
    samplings: tuple[Sampling, ...], expected: tuple[int, float | None, float | None]
) -> None:
    params = generation_params(MODEL, *samplings)

    assert (params.max_tokens, params.temperature, params.top_p) == expected


@pytest.mark.parametrize(
    ("window", "output", "margin", "budget"),
    [(8192, 1024, 64, 7104), (1000, 900, 64, MIN_PROMPT_BUDGET), (32768, 4096, 0, 28672)],
)
def test_prompt_budget(window: int, output: int, margin: int, budget: int) -> None:
    model = ModelSpec("m", "mock", "m", window, output)

    assert prompt_budget(model, output, margin) == budget


def test_preamble_is_the_presets_messages_or_the_persona_prompt() -> None:
    preset = PresetSnapshot(
        "p",
        "Tutor",
        "",
        (
            PresetMessage(Role.SYSTEM, "Be a tutor.", visible=False),
            PresetMessage(Role.USER, "What is 2+2?"),
            PresetMessage(Role.ASSISTANT, "What do you think?"),
        ),
    )

    assert preamble(None, "Be helpful.") == (ChatMessage(Role.SYSTEM, "Be helpful."),)
    assert preamble(preset, "Be helpful.") == (
        ChatMessage(Role.SYSTEM, "Be a tutor."),  # invisible messages are still sent
        ChatMessage(Role.USER, "What is 2+2?"),
        ChatMessage(Role.ASSISTANT, "What do you think?"),
    )


@pytest.mark.parametrize(
    ("model", "images", "refused"),
    [(MODEL, 0, False), (MODEL, 1, True), (VISION, 1, False), (VISION, 0, False)],
)
def test_images_only_to_models_that_take_them(model: ModelSpec, images: int, refused: bool) -> None:
    parts = (ContentPart(PartType.TEXT, text="look"), *[IMAGE] * images)
    message = ChatMessage(Role.USER, "look", parts=parts if images else None)

    refusal = image_refusal(model, [message])

    assert (refusal is not None) == refused
    if refusal:
        assert "takes_images" in refusal
        assert model.name in refusal


def conversation(**overrides: object) -> Conversation:
    values: dict[str, object] = {
        "id": "c1",
        "owner_id": "u1",
        "title": "Planning a trip",
        "title_auto": False,
        "model": None,
        "sampling": Sampling(),
        "preset": None,
        "message_count": 2,
        "input_tokens": 5,
        "output_tokens": 9,
        "total_tokens": 14,
        "prompt_tokens": 40,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return Conversation(**values)  # type: ignore[arg-type]


def message(role: Role, text: str, **overrides: object) -> StoredMessage:
    values: dict[str, object] = {
        "id": "m",
        "conversation_id": "c1",
        "role": role,
        "text": text,
        "parts": None,
        "visible": True,
        "input_tokens": 5,
        "output_tokens": 0,
        "prompt_tokens": 0,
        "model": "mock",
        "status": MessageStatus.COMPLETE,
        "created_at": T0,
        "key": "",
    }
    values.update(overrides)
    return StoredMessage(**values)  # type: ignore[arg-type]


def test_markdown_export() -> None:
    preset = PresetSnapshot(
        "p",
        "Tutor",
        "",
        (
            PresetMessage(Role.SYSTEM, "secret instructions", visible=False),
            PresetMessage(Role.ASSISTANT, "Hello! What shall we learn?"),
        ),
    )
    picture = (
        ContentPart(PartType.TEXT, text="what is this?"),
        IMAGE,
        ContentPart(PartType.IMAGE_URL, url="data:image/png;base64,AAAA"),
    )
    messages = [
        message(Role.USER, "what is this?", parts=picture),
        message(Role.ASSISTANT, "An ant.", model="mock", status=MessageStatus.INCOMPLETE),
        message(Role.USER, "thanks", status=MessageStatus.UNANSWERED),
    ]

    text = to_markdown(conversation(preset=preset, model="mock"), messages)

    assert text.startswith("# Planning a trip\n")
    assert "- Model: mock" in text
    assert "5 in, 9 out, 14 in all" in text
    assert "secret instructions" not in text
    assert "## Assistant (preset)\n\nHello! What shall we learn?" in text
    assert (
        "## You · 2026-11-21 12:00 UTC\n\nwhat is this?\n\n![image](https://example.com/a.png)"
        in text
    )
    assert "base64" not in text
    assert "## Assistant (mock) · 2026-11-21 12:00 UTC · incomplete\n\nAn ant." in text
    assert "· unanswered\n\nthanks\n" in text
