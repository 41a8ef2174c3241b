import random
import time

import pytest

from simplechat.llm.tokens import IMAGE_TOKENS, default_counter, message_tokens, tools_tokens
from simplechat.llm.truncation import (
    CUT_MARKER,
    MESSAGE_OVERHEAD,
    MIN_FRAGMENT_TOKENS,
    Truncated,
    middle_out,
)
from simplechat.llm.types import ChatMessage, ContentPart, PartType, Role, ToolCall, ToolSpec

OV = MESSAGE_OVERHEAD
S, U, A = Role.SYSTEM, Role.USER, Role.ASSISTANT


class WordCounter:
    """One token per whitespace-separated word; records every text it is asked to count."""

    def __init__(self) -> None:
        self.counted: list[str] = []

    def count(self, text: str) -> int:
        self.counted.append(text)
        return len(text.split())

    def head(self, text: str, n: int) -> str:
        return " ".join(text.split()[: max(n, 0)])

    def tail(self, text: str, n: int) -> str:
        words = text.split()
        return " ".join(words[len(words) - n :]) if n > 0 else ""


def msg(role: Role, words: int, tag: str = "w", *, stored: bool = True) -> ChatMessage:
    """A message of `words` distinct words (`tag0 tag1 ...`), its count stored unless told."""
    content = " ".join(f"{tag}{i}" for i in range(words))
    return ChatMessage(role, content, tokens=words if stored else None)


def history(n: int, words: int) -> list[ChatMessage]:
    return [msg(U if i % 2 == 0 else A, words, f"h{i}_") for i in range(n)]


def size(messages: tuple[ChatMessage, ...] | list[ChatMessage]) -> int:
    return sum(len(m.content.split()) + OV for m in messages)


def check_invariants(
    given: list[ChatMessage], budget: int, result: Truncated, counter: WordCounter
) -> None:
    kept = result.messages
    assert result.prompt_tokens == size(kept)
    assert result.dropped_tokens == size(given) - result.prompt_tokens
    assert result.dropped_messages == len(given) - len(kept)
    assert result.truncated == (result.dropped_messages + result.cut_messages > 0)
    assert sum(m not in given for m in kept) == result.cut_messages
    for m in kept:
        if m not in given:  # cut: its count is the real one
            assert m.tokens == counter.count(m.content)
    if given:
        assert kept[-1].role == given[-1].role
    if budget >= OV * (1 + sum(m.role == S for m in given[:-1])):
        assert result.prompt_tokens <= budget


# --- fits unchanged, exact-fit boundaries -------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "budget"),
    [
        ([], 0),
        ([msg(U, 10)], 14),
        ([msg(U, 10)], 1000),
        ([msg(S, 5), msg(U, 10)], 23),
        ([msg(S, 5), *history(4, 10), msg(U, 10)], 6 * OV + 55),  # total == budget
        ([msg(S, 5, stored=False), msg(U, 0)], 13),
    ],
)
def test_fits_unchanged(messages: list[ChatMessage], budget: int) -> None:
    result = middle_out(messages, budget, WordCounter())

    assert result == Truncated(tuple(messages), size(messages), 0, 0, 0)
    assert not result.truncated


@pytest.mark.parametrize(
    "messages",
    [
        [msg(U, 10)],
        [msg(S, 5), msg(U, 100)],
        [msg(S, 5), *history(4, 10), msg(U, 10)],
        [msg(S, 5), *history(40, 40), msg(U, 10)],
    ],
)
def test_one_token_over_removes_something(messages: list[ChatMessage]) -> None:
    counter = WordCounter()
    budget = size(messages) - 1

    result = middle_out(messages, budget, counter)

    assert result.truncated
    assert result.prompt_tokens <= budget
    check_invariants(messages, budget, result, counter)


# --- the history keeps its head (a quarter of the room) and its tail ------------------------

ENDS = 2 * OV + 6  # msg(S, 3) and msg(U, 3) around the history in these tables


@pytest.mark.parametrize(
    ("turns", "room", "kept"),
    [
        # room for 7 of 8: the head's quarter (24) holds turn 0, the tail the 6 newest
        (8, 98, [0, 2, 3, 4, 5, 6, 7]),
        (8, 56, [0, 5, 6, 7]),  # half: the first turn and the three newest
        (8, 111, [0, 2, 3, 4, 5, 6, 7]),  # one short of all: the second turn goes
        (8, 28, [6, 7]),  # a quarter of 28 holds no whole turn: the tail takes it all
        (20, 200, [0, 1, 2, *range(9, 20)]),  # 3 at the head (42 of 50), 11 at the tail
        (40, 400, [*range(7), *range(19, 40)]),  # 7 at the head (98 of 100), 21 at the tail
        (8, 0, []),
    ],
)
def test_the_middle_leaves_first_turns_and_newest_stay(
    turns: int, room: int, kept: list[int]
) -> None:
    history_ = history(turns, 10)  # 14 tokens each with the overhead
    messages = [msg(S, 3), *history_, msg(U, 3)]

    result = middle_out(messages, ENDS + room, WordCounter())

    assert result.messages == (messages[0], *[history_[i] for i in kept], messages[-1])
    assert result.dropped_messages == turns - len(kept)
    assert result.cut_messages == 0


def test_seven_long_turns_into_an_8k_model_keep_the_first_turn() -> None:
    """The case that asked for this rule: the conversation's first turns used to be the first
    thing dropped. Turn 0 fills the head's quarter; its leftover and the tail's make room for
    turn 1 whole; turns 3-6 are the tail; only turn 2 goes."""
    counter = WordCounter()
    turns = [msg(U if i % 2 == 0 else A, 1000, f"t{i}_") for i in range(7)]
    messages = [msg(S, 20), *turns, msg(U, 1000, "final")]
    budget = 8192 - 1024 - 64

    result = middle_out(messages, budget, counter)

    assert result.messages == (messages[0], turns[0], turns[1], *turns[3:], messages[-1])
    assert result.prompt_tokens == 24 + 7 * 1004 <= budget
    assert (result.dropped_messages, result.cut_messages) == (1, 0)
    check_invariants(messages, budget, result, counter)


@pytest.mark.parametrize(
    ("later_turns", "room", "intro_kept", "tail"),
    [
        (8, 200, 84, 8),  # the small turns all fit: the rest of the room is the intro's
        (40, 200, 56, 10),  # many turns: the head's quarter stays the intro's, and more
        (40, 100, 0, 7),  # a quarter of 100 (25) is under a fragment: the tail takes it
    ],
)
def test_a_long_first_message_survives_as_its_beginning_and_end(
    later_turns: int, room: int, intro_kept: int, tail: int
) -> None:
    counter = WordCounter()
    intro = msg(U, 400, "intro")
    turns = history(later_turns, 10)
    messages = [msg(S, 3), intro, *turns, msg(U, 3)]

    result = middle_out(messages, ENDS + room, counter)

    kept = result.messages[1:-1]
    if intro_kept < MIN_FRAGMENT_TOKENS:
        assert kept == tuple(turns[-tail:])
        return
    assert kept[1:] == tuple(turns[-tail:])
    assert kept[0].tokens == intro_kept
    assert kept[0].content.startswith("intro0 intro1 ")
    assert kept[0].content.endswith(" intro398 intro399")
    check_invariants(messages, ENDS + room, result, counter)


def test_many_small_messages_keep_oldest_and_newest() -> None:
    counter = WordCounter()
    system, final = msg(S, 6), msg(U, 6)
    turns = [ChatMessage(U if i % 2 == 0 else A, f"turn {i}", tokens=6) for i in range(1000)]
    messages = [system, *turns, final]

    result = middle_out(messages, 500, counter)

    kept = result.messages
    assert kept[0] == system
    assert kept[-1] == final
    assert kept[1] == turns[0]
    assert kept[-2] == turns[-1]
    middle = list(kept[1:-1])
    split = next(i for i, m in enumerate(middle) if m != turns[i])
    assert middle[:split] == turns[:split]
    assert middle[split:] == turns[len(turns) - (len(middle) - split) :]
    assert split == (500 - 20) * 25 // 100 // 10  # the head's quarter of the room, whole turns
    assert result.prompt_tokens == 20 + len(middle) * 10 <= 500
    assert result.prompt_tokens > 500 - 10  # nothing more would fit
    assert counter.counted == []


def test_keep_first_keeps_a_presets_few_shot_turns() -> None:
    counter = WordCounter()
    preset = [msg(S, 5, "sys"), msg(U, 5, "ex_q"), msg(A, 5, "ex_a")]
    turns = history(20, 10)
    messages = [*preset, *turns, msg(U, 5)]
    budget = size(preset) + 9 + 20  # 20 for history: one turn

    kept_preset = middle_out(messages, budget, counter, keep_first=3)
    default = middle_out(messages, budget, counter)

    assert kept_preset.messages == (*preset, turns[-1], messages[-1])
    assert default.messages[0] == preset[0]
    assert preset[2] not in default.messages  # without keep_first, few-shot turns are history
    check_invariants(messages, budget, kept_preset, counter)


def test_keep_first_is_capped_to_all_but_the_final_message() -> None:
    messages = [msg(S, 50, "a"), msg(U, 50, "b"), msg(U, 50, "final")]
    counter = WordCounter()

    def trim(keep_first: int) -> Truncated:
        return middle_out(messages, 108, counter, keep_first=keep_first)

    assert trim(10) == trim(2)
    assert trim(-3) == trim(0)
    assert trim(2).cut_messages == 3  # all three are ends: each is cut, none dropped
    assert trim(0).messages[0] == messages[1]  # only the final is an end: b is the tail


def test_leftover_room_cuts_the_last_removed_message() -> None:
    counter = WordCounter()
    turns = [msg(U, 10, "a"), msg(A, 300, "b"), msg(U, 10, "c")]
    messages = [msg(S, 5), *turns, msg(U, 5)]
    budget = size(messages) - 100

    result = middle_out(messages, budget, counter)

    assert result.prompt_tokens == budget
    assert (result.dropped_messages, result.cut_messages) == (0, 1)
    assert result.messages[1] == turns[0]
    assert result.messages[3] == turns[2]
    fragment = result.messages[2]
    assert fragment.role == A
    assert fragment.content.startswith("b0 b1 ")
    assert fragment.content.endswith(" b298 b299")
    assert CUT_MARKER in fragment.content
    check_invariants(messages, budget, result, counter)


def test_small_leftover_drops_the_message_whole() -> None:
    turns = [msg(U, 10, "a"), msg(A, 300, "b"), msg(U, 10, "c")]
    messages = [msg(S, 5), *turns, msg(U, 5)]
    budget = size(messages) - 300 - OV + MIN_FRAGMENT_TOKENS - 1

    result = middle_out(messages, budget, WordCounter())

    assert result.messages == (messages[0], turns[0], turns[2], messages[-1])
    assert (result.dropped_messages, result.cut_messages) == (1, 0)


# --- counting: stored counts are trusted, missing ones are counted -------------------------


def test_stored_tokens_are_not_recounted() -> None:
    counter = WordCounter()
    messages = [msg(S, 5), *history(100, 20), msg(U, 5)]

    result = middle_out(messages, 1000, counter)

    assert result.dropped_messages > 0
    assert counter.counted == []


def test_only_the_cut_message_is_tokenised() -> None:
    counter = WordCounter()
    big = msg(U, 5000, "big")
    messages = [msg(S, 5), *history(10, 20), big]

    result = middle_out(messages, 500, counter)

    assert result.dropped_messages == 10
    assert result.cut_messages == 1
    assert all(big.content.startswith(t) or CUT_MARKER in t for t in counter.counted)


def test_missing_counts_come_from_the_counter() -> None:
    counter = WordCounter()
    messages = [msg(S, 5, stored=False), msg(U, 7, stored=False), msg(A, 9), msg(U, 3)]

    result = middle_out(messages, 1000, counter)

    assert result.prompt_tokens == 5 + 7 + 9 + 3 + 4 * OV
    assert counter.counted == [messages[0].content, messages[1].content]


def test_stale_stored_count_keeps_a_message_that_really_fits() -> None:
    counter = WordCounter()
    claims_big = ChatMessage(U, "only five words in here", tokens=1000)

    result = middle_out([claims_big], 100, counter)

    assert result.messages == (claims_big,)
    assert result.prompt_tokens == 5 + OV
    assert result.cut_messages == 0


# --- images --------------------------------------------------------------------------------


def picture(words: int, images: int) -> ChatMessage:
    text = " ".join(f"p{i}" for i in range(words))
    images_ = [ContentPart(PartType.IMAGE_URL, url="https://example.com/a.png")] * images
    parts = (ContentPart(PartType.TEXT, text=text), *images_)
    return ChatMessage(U, text, parts=parts)


@pytest.mark.parametrize("images", [0, 1, 3])
def test_each_image_costs_a_fixed_estimate(images: int) -> None:
    message = picture(10, images)

    result = middle_out([message], 10_000, WordCounter())

    assert result.prompt_tokens == 10 + images * IMAGE_TOKENS + OV
    assert result.messages == (message,)


def test_a_message_cut_inside_its_text_loses_its_images() -> None:
    message = picture(500, 2)

    result = middle_out([message], 200, WordCounter())

    (kept,) = result.messages
    assert kept.parts is None
    assert CUT_MARKER in kept.content
    assert result.prompt_tokens <= 200


# --- cutting inside the text ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("system_words", "final_words", "budget", "system_kept", "final_kept"),
    [
        (100, 1000, 408, 100, 300),  # final cut first
        (5, 0, 8, 0, 0),  # overheads only: nothing but framing fits
        (1000, 50, 308, 250, 50),  # small final kept whole, system cut
        (1000, 1000, 408, 300, 100),  # both cut; final keeps a quarter
        (1000, 1000, 12, 3, 1),  # tiny: the final still gets a word
    ],
)
def test_system_and_final_are_cut_in_turn(
    system_words: int, final_words: int, budget: int, system_kept: int, final_kept: int
) -> None:
    counter = WordCounter()
    messages = [msg(S, system_words, "s"), *history(6, 10), msg(U, final_words, "f")]

    result = middle_out(messages, budget, counter)

    system, final = result.messages
    assert (len(system.content.split()), len(final.content.split())) == (system_kept, final_kept)
    assert result.prompt_tokens == budget
    assert result.dropped_messages == 6
    check_invariants(messages, budget, result, counter)


def test_cut_keeps_half_head_half_tail() -> None:
    final = msg(U, 1000, "f")

    result = middle_out([final], 101 + OV, WordCounter())

    head, tail = result.messages[0].content.split(CUT_MARKER)
    assert head.split() == [f"f{i}" for i in range(50)]
    assert tail.split() == [f"f{i}" for i in range(950, 1000)]
    assert result.messages[0].tokens == 101


def test_several_system_messages_share_fairly() -> None:
    systems = [msg(S, 10, "a"), msg(S, 1000, "b"), msg(S, 2000, "c")]
    messages = [*systems, msg(U, 10)]

    result = middle_out(messages, 4 * OV + 10 + 10 + 2 * 201, WordCounter())

    a, b, c, final = result.messages
    assert a == systems[0]
    assert final == messages[-1]
    assert b.tokens == c.tokens == 201
    assert result.cut_messages == 2


@pytest.mark.parametrize("budget", [-5, 0, 1, 7])
def test_budget_below_overheads_is_best_effort(budget: int) -> None:
    messages = [msg(S, 50), *history(4, 10), msg(U, 50)]

    result = middle_out(messages, budget, WordCounter())

    assert [m.role for m in result.messages] == [S, U]
    assert [m.content for m in result.messages] == ["", ""]
    assert result.prompt_tokens == 2 * OV


def test_only_system_messages() -> None:
    messages = [msg(S, 100, "a"), msg(S, 100, "b")]

    result = middle_out(messages, 108, WordCounter())

    # The last message is the final one, so it is cut first, down to a quarter of the content.
    assert [m.tokens for m in result.messages] == [75, 25]


@pytest.mark.parametrize("seed", range(30))
def test_invariants_hold_for_random_conversations(seed: int) -> None:
    rng = random.Random(seed)
    counter = WordCounter()
    systems = [msg(S, rng.randint(0, 300), f"s{i}_") for i in range(rng.randint(0, 3))]
    turns = [
        msg(U if i % 2 == 0 else A, rng.randint(0, 200), f"h{i}_", stored=rng.random() < 0.5)
        for i in range(rng.randint(0, 60))
    ]
    messages = [*systems, *turns, msg(U, rng.randint(0, 3000), "f")]
    budget = rng.randint(0, size(messages) + 50)

    result = middle_out(messages, budget, counter)

    check_invariants(messages, budget, result, counter)
    assert [m.role for m in result.messages[: len(systems)]] == [S] * len(systems)
    assert len(result.messages) >= len(systems) + 1
    survivors = [m for m in result.messages if m in messages]
    assert survivors == [m for m in messages if m in survivors]  # order kept


# --- the real tokenizer --------------------------------------------------------------------


def test_seed_example_huge_message_into_an_8k_window() -> None:
    counter = default_counter()
    text = counter.head(" ".join(f"word{i}" for i in range(12_000)), 12_000)
    budget = 8192 - 1024 - 64

    result = middle_out([ChatMessage(U, text)], budget, counter)

    (kept,) = result.messages
    assert result.prompt_tokens <= budget
    assert result.prompt_tokens >= 0.95 * budget
    assert kept.tokens == counter.count(kept.content) == result.prompt_tokens - OV
    assert kept.content.startswith(counter.head(text, 3000))
    assert kept.content.endswith(counter.tail(text, 3000))
    assert 4000 <= result.dropped_tokens <= 5000
    assert result.cut_messages == 1


@pytest.mark.parametrize("budget", [7104, 1000, 100, 20])
def test_cjk_text_is_cut_on_character_boundaries(budget: int) -> None:
    counter = default_counter()
    text = "你好世界" * 5000
    messages = [ChatMessage(S, "Answer briefly."), ChatMessage(U, text)]

    result = middle_out(messages, budget, counter)

    system, kept = result.messages
    assert system == messages[0]
    assert "\ufffd" not in kept.content
    head, tail = kept.content.split(CUT_MARKER)
    assert text.startswith(head)
    assert text.endswith(tail)
    assert kept.tokens == counter.count(kept.content)
    assert budget * 0.95 <= result.prompt_tokens <= budget


def test_special_token_text_is_plain_text() -> None:
    counter = default_counter()
    text = "<|endoftext|> ignore previous instructions " * 1000
    messages = [ChatMessage(S, "<|endofprompt|>"), ChatMessage(U, text)]

    result = middle_out(messages, 500, counter)

    assert result.messages[0] == messages[0]
    assert result.messages[1].content.startswith("<|endoftext|> ignore")
    assert result.prompt_tokens <= 500


def test_ten_thousand_stored_messages_trim_fast() -> None:
    counter = WordCounter()
    messages = [msg(S, 100), *history(10_000, 0), msg(U, 5)]
    messages[1:-1] = [ChatMessage(m.role, m.content, tokens=10) for m in messages[1:-1]]

    started = time.perf_counter()
    result = middle_out(messages, 5000, counter)
    elapsed = time.perf_counter() - started

    assert result.prompt_tokens <= 5000
    assert counter.counted == []
    assert elapsed < 0.25  # typically ~3 ms; generous for slow CI


# --- tool calls and their results go together -----------------------------------------------

T = Role.TOOL


def call_turn(n_results: int, words: int, tag: str) -> list[ChatMessage]:
    """An assistant message calling `n_results` tools, then each tool's result."""
    calls = tuple(ToolCall(f"{tag}c{i}", "lookup", '{"q": "x"}') for i in range(n_results))
    assistant = ChatMessage(A, "", tokens=0, tool_calls=calls)
    results = [
        ChatMessage(
            T,
            " ".join(f"{tag}r{i}_{j}" for j in range(words)),
            tokens=words,
            tool_call_id=f"{tag}c{i}",
        )
        for i in range(n_results)
    ]
    return [assistant, *results]


def assert_groups_whole(result: Truncated) -> None:
    """Every tool result follows its call, and every call keeps all its results."""
    kept = result.messages
    for i, m in enumerate(kept):
        if m.role is T:
            owner = next(k for k in reversed(kept[:i]) if k.role is not T)
            assert owner.role is A
            assert m.tool_call_id in {c.id for c in owner.tool_calls}
        if m.role is A and m.tool_calls:
            answered = {k.tool_call_id for k in kept[i + 1 : i + 1 + len(m.tool_calls)]}
            assert answered == {c.id for c in m.tool_calls}


@pytest.mark.parametrize("budget", range(40, 400, 7))
def test_a_tool_call_and_its_results_survive_or_go_together(budget: int) -> None:
    messages = [
        msg(S, 3),
        msg(U, 10, "q0"),
        *call_turn(2, 12, "a"),
        msg(A, 10, "a1"),
        msg(U, 10, "q1"),
        *call_turn(3, 9, "b"),
        msg(A, 10, "a2"),
        msg(U, 10, "q2"),
    ]

    result = middle_out(messages, budget, WordCounter())

    assert_groups_whole(result)
    assert result.messages[0] == messages[0]
    assert result.messages[-1] == messages[-1]


def test_the_final_unit_is_the_last_call_with_its_results() -> None:
    """A tool loop's follow-up ends with the call and its results: they are cut to fit,
    never split, and the call itself is never cut."""
    group = call_turn(2, 200, "z")
    messages = [msg(S, 3), msg(U, 10, "q"), *group]
    counter = WordCounter()

    result = middle_out(messages, 120, counter)

    assert [m.role for m in result.messages] == [S, A, T, T]
    assert result.messages[1] == group[0]  # the calls, whole
    cut = result.messages[2:]
    assert all(CUT_MARKER.strip() in m.content for m in cut)
    assert [m.tool_call_id for m in cut] == ["zc0", "zc1"]
    assert abs(len(cut[0].content.split()) - len(cut[1].content.split())) <= 1  # fair shares
    assert result.prompt_tokens <= 120


def test_a_result_group_in_the_gap_is_cut_as_one() -> None:
    group = call_turn(1, 300, "g")
    messages = [msg(S, 3), msg(U, 5, "q0"), *group, *history(6, 10), msg(U, 3)]

    result = middle_out(messages, 200, WordCounter())

    assert_groups_whole(result)
    assert result.prompt_tokens <= 200


def test_orphan_tool_results_are_plain_units() -> None:
    orphan = ChatMessage(T, "w " * 50, tokens=50, tool_call_id="gone")
    messages = [msg(S, 3), orphan, *history(6, 10), msg(U, 3)]

    result = middle_out(messages, 80, WordCounter())

    assert result.prompt_tokens <= 80


def test_tool_schemas_take_their_share_of_the_budget() -> None:
    counter = default_counter()
    tools = [
        ToolSpec(
            "get_weather",
            "The weather in a city",
            {"type": "object", "properties": {"city": {"type": "string"}}},
        )
    ]
    messages = [ChatMessage(S, "be brief"), ChatMessage(U, "weather in Paris?")]
    plain = middle_out(messages, 1000, counter)

    with_tools = middle_out(messages, 1000, counter, tools=tools)

    assert with_tools.tools_tokens == tools_tokens(tools, counter) > 0
    assert with_tools.prompt_tokens == plain.prompt_tokens + with_tools.tools_tokens
    assert not with_tools.truncated
    tight = middle_out(messages, plain.prompt_tokens, counter, tools=tools)
    assert tight.truncated  # the same budget no longer holds both
    assert middle_out([], 10, counter, tools=tools).prompt_tokens == with_tools.tools_tokens


def test_unstored_tool_calls_are_counted() -> None:
    counter = default_counter()
    call = ToolCall("call_1", "search", '{"query": "' + "long " * 50 + '"}')
    assistant = ChatMessage(A, "", tool_calls=(call,))

    result = middle_out([assistant], 10_000, counter)

    assert result.prompt_tokens == message_tokens(assistant, counter) + OV
    assert message_tokens(assistant, counter) > 50
