"""Middle-out context trimming: fit a prompt into a token budget by removing its middle.

An assistant message with tool calls and the tool results after it are one unit: they are
kept or dropped together (a tool result without its call, or a call without its results, is
a 400 at OpenAI and most providers), and a unit cut to fit shortens its messages' texts
fairly, never its calls.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate

from simplechat.llm.tokens import TokenCounter, fixed_tokens, message_tokens, tools_tokens
from simplechat.llm.types import ChatMessage, Role, ToolSpec

# Tokens each message costs for its role and framing, on top of its content (OpenAI-style).
MESSAGE_OVERHEAD = 4
# Put between the kept head and tail of a message cut inside its text; its tokens count.
CUT_MARKER = "\n…\n"
# A history message is cut rather than dropped only if at least this many tokens would survive;
# a shorter fragment is noise.
MIN_FRAGMENT_TOKENS = 32
# The share of the history's room kept for the conversation's first messages (who the person
# is, what they want); the rest is for the newest ones.
HEAD_SHARE_PERCENT = 25
# When the system prompt and the final message do not fit together, the final message is cut
# first, but keeps at least 1/FINAL_MIN_SHARE of the content budget; only then is the system
# prompt cut too.
FINAL_MIN_SHARE = 4


@dataclass(frozen=True, slots=True)
class Truncated:
    """The result of `middle_out`."""

    messages: tuple[ChatMessage, ...]  # what to send upstream, in order
    prompt_tokens: int  # counted size of `messages`, overhead and tool schemas included
    dropped_tokens: int  # original size minus `prompt_tokens` (whole messages and cut text)
    dropped_messages: int  # whole messages removed
    cut_messages: int  # messages shortened inside their text
    tools_tokens: int = 0  # what the request's tool schemas cost (in `prompt_tokens`)

    @property
    def truncated(self) -> bool:
        return self.dropped_messages > 0 or self.cut_messages > 0


def middle_out(
    messages: Sequence[ChatMessage],
    budget: int,
    counter: TokenCounter,
    *,
    keep_first: int | None = None,
    tools: Sequence[ToolSpec] = (),
) -> Truncated:
    """Fit `messages` (and the request's `tools`, whose schemas take their share of the
    budget first) into `budget` tokens, removing from the middle of the conversation.

    `messages` is: the leading messages kept whole when they can be (`keep_first` of them: a
    preset's system and few-shot messages; by default the leading system messages), the
    history (oldest first), the final unit: the last message, or the last assistant message
    with tool calls together with the tool results after it. A message costs its `tokens`
    (or, when `tokens` is None, `tokens.message_tokens`: its counted text, IMAGE_TOKENS per
    image, its tool calls) plus MESSAGE_OVERHEAD. Stored `tokens` are trusted; only
    messages that get cut are tokenised. The algorithm works on units (a message, or an
    assistant message with tool calls and the tool results after it), never splitting one.

    1. If everything fits, the messages come back unchanged.
    2. Otherwise the history keeps its head and its tail and loses what lies between. Of the
       room the kept and final units leave (`room`), HEAD_SHARE_PERCENT is the head's:
       - the head is the oldest history units that fit the head's share whole;
       - the tail is the newest units that fit what the head did not take; but when the
         head's share still has room for a fragment (MIN_FRAGMENT_TOKENS), that room stays
         the head's, for the next-oldest unit cut to fit (a long first message survives
         as its beginning and end instead of disappearing);
       - room still left then goes to one unit cut inside its texts: the head's next one
         when the head's room was kept for it, else the tail's next-older one, if at least
         MIN_FRAGMENT_TOKENS of it would fit. Everything else between is dropped.
    3. If the kept and final units do not fit even without history, the final unit is
       cut (half head, half tail, CUT_MARKER between). The kept messages are cut too only if
       they would leave the final unit less than 1/FINAL_MIN_SHARE of the content budget;
       they share their budget fairly (short ones stay whole, long ones are cut to the same
       length).

    Edge cases:
    - No messages: an empty result (its `prompt_tokens` the tool schemas'). One message or
      one unit: it is the final unit.
    - `keep_first` is capped to all but the final unit (a unit it reaches into is kept
      whole). By default only the *leading* system messages are kept; a system message
      inside the history is history. If every message is a system message, the last one is
      the final message.
    - A unit cut to fit shares its limit fairly among its messages' texts; tool calls (and
      a tool result's call id) are never cut, so a unit whose calls alone exceed its limit
      comes out larger than it. A message cut inside its text loses its images (its
      `parts`): it becomes text only.
    - Tool results after no assistant call (the client sent them so) are units of their
      own, as any message.
    - Removing history can leave two consecutive messages with the same role.
    - A budget below the fixed overheads (MESSAGE_OVERHEAD per kept message and the final
      unit's, and the tool schemas) cannot be met: every surviving message keeps empty
      content and `prompt_tokens` exceeds `budget`. A budget only slightly above them may
      also leave contents empty. Never raises; a negative budget behaves like 0.
    - A stored `tokens` count that disagrees with the text is believed when deciding what to
      remove; a message that is cut gets its real, counted `tokens`.
    """
    schemas = tools_tokens(tools, counter) if tools else 0
    msgs = tuple(messages)
    if not msgs:
        return Truncated((), schemas, 0, 0, 0, schemas)
    budget -= schemas
    sizes = [_content_tokens(m, counter) for m in msgs]
    total = sum(sizes) + MESSAGE_OVERHEAD * len(msgs)
    if total <= budget:
        return Truncated(msgs, total + schemas, 0, 0, 0, schemas)

    bounds = _unit_bounds(msgs)
    if len(bounds) == len(msgs):  # no tool calls: every unit is one message
        costs = [size + MESSAGE_OVERHEAD for size in sizes]
    else:
        prefix = [0, *accumulate(sizes)]
        costs = [prefix[e] - prefix[b] + MESSAGE_OVERHEAD * (e - b) for b, e in bounds]

    def unit(k: int) -> Unit:
        return [(msgs[i], sizes[i]) for i in range(*bounds[k])]

    if keep_first is None:
        n_keep = _count_leading_systems(msgs[:-1])
    else:
        n_keep = max(0, min(keep_first, len(msgs) - 1))
    n_kept = _units_reaching(bounds, n_keep)
    last = len(bounds) - 1
    room = budget - sum(costs[:n_kept]) - costs[last]
    if room >= 0:
        history = _trim_history(costs[n_kept:last], room, counter, lambda k: unit(n_kept + k))
        kept = [*map(unit, range(n_kept)), *history, unit(last)]
    else:
        kept = _cut_ends([*map(unit, range(n_kept)), unit(last)], budget, counter)

    flat = [sized for unit in kept for sized in unit]
    originals = {id(m) for m in msgs}
    prompt = sum(size for _, size in flat) + MESSAGE_OVERHEAD * len(flat)
    return Truncated(
        messages=tuple(m for m, _ in flat),
        prompt_tokens=prompt + schemas,
        dropped_tokens=total - prompt,
        dropped_messages=len(msgs) - len(flat),
        cut_messages=sum(1 for m, _ in flat if id(m) not in originals),
        tools_tokens=schemas,
    )


# Sized = (message, content tokens): sizes travel with messages so nothing is counted twice.
Sized = tuple[ChatMessage, int]
# A unit: one message, or an assistant message with tool calls and the tool results after it.
Unit = list[Sized]


def _content_tokens(message: ChatMessage, counter: TokenCounter) -> int:
    if message.tokens is not None:
        return max(message.tokens, 0)
    return message_tokens(message, counter)


def _unit_bounds(messages: Sequence[ChatMessage]) -> list[tuple[int, int]]:
    """(start, end) of each unit: an assistant message with tool calls takes the tool
    results right after it."""
    if not any(m.tool_calls for m in messages):
        return [(i, i + 1) for i in range(len(messages))]
    bounds = []
    start = 0
    while start < len(messages):
        end = start + 1
        if messages[start].role is Role.ASSISTANT and messages[start].tool_calls:
            while end < len(messages) and messages[end].role is Role.TOOL:
                end += 1
        bounds.append((start, end))
        start = end
    return bounds


def _units_reaching(bounds: Sequence[tuple[int, int]], n_messages: int) -> int:
    """How many leading units hold the first `n_messages` messages (a unit the count reaches
    into is kept whole), never the last unit."""
    count = 0
    while count < len(bounds) - 1 and bounds[count][0] < n_messages:
        count += 1
    return count


def _size(unit: Unit) -> int:
    return sum(size for _, size in unit)


def _count_leading_systems(messages: Sequence[ChatMessage]) -> int:
    n = 0
    while n < len(messages) and messages[n].role == Role.SYSTEM:
        n += 1
    return n


def _trim_history(
    costs: Sequence[int], room: int, counter: TokenCounter, unit: Callable[[int], Unit]
) -> list[Unit]:
    """Keep the head (HEAD_SHARE_PERCENT of `room`) and the tail (the rest) of the history
    whose units cost `costs` (`unit(k)` is its k-th), with at most one unit cut in the gap;
    overheads included. Called only when the whole history does not fit `room`."""
    head_room = room * HEAD_SHARE_PERCENT // 100
    head_end, head_used = 0, 0  # units [0, head_end) are the head
    while head_end < len(costs) and head_used + costs[head_end] <= head_room:
        head_used += costs[head_end]
        head_end += 1
    # Room for a fragment left in the head's share stays the head's (see middle_out, 2.).
    head_keeps_room = head_room - head_used >= MIN_FRAGMENT_TOKENS + MESSAGE_OVERHEAD
    tail_room = room - (head_room if head_keeps_room else head_used)
    tail_start, tail_used = len(costs), 0  # units [tail_start, end) are the tail
    while tail_start > head_end and tail_used + costs[tail_start - 1] <= tail_room:
        tail_start -= 1
        tail_used += costs[tail_start]

    head = [unit(k) for k in range(head_end)]
    tail = [unit(k) for k in range(tail_start, len(costs))]
    if tail_start == head_end:
        return head + tail
    edge = unit(head_end if head_keeps_room else tail_start - 1)
    limit = room - head_used - tail_used - MESSAGE_OVERHEAD * len(edge)
    if limit < MIN_FRAGMENT_TOKENS + _fixed(edge, counter):
        return head + tail
    return [*head, _cut_unit(edge, limit, counter), *tail]


def _cut_ends(ends: Sequence[Unit], budget: int, counter: TokenCounter) -> list[Unit]:
    """Cut the final unit, then if need be the kept messages, to fit `budget` together."""
    *systems, final = ends
    available = max(budget - MESSAGE_OVERHEAD * sum(len(unit) for unit in ends), 0)
    system_sizes = [_size(unit) for unit in systems]
    final_size = _size(final)
    floor = -(-available // FINAL_MIN_SHARE)  # rounded up: the final unit outranks the system
    final_limit = min(final_size, max(available - sum(system_sizes), floor))
    limits = [*_fair_shares(system_sizes, available - final_limit), final_limit]
    return [
        unit if limit >= _size(unit) else _cut_unit(unit, limit, counter)
        for unit, limit in zip(ends, limits, strict=True)
    ]


def _fair_shares(sizes: Sequence[int], total: int) -> list[int]:
    """Split `total` so small items stay whole and large ones get equal caps (water-filling)."""
    if sum(sizes) <= total:
        return list(sizes)
    shares = [0] * len(sizes)
    left = max(total, 0)
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    for done, i in enumerate(order):
        shares[i] = min(sizes[i], left // (len(order) - done))
        left -= shares[i]
    return shares


def _fixed(unit: Unit, counter: TokenCounter) -> int:
    """The tokens of `unit` no cut removes (tool calls)."""
    return sum(fixed_tokens(m, counter) for m, _ in unit)


def _cut_unit(unit: Unit, limit: int, counter: TokenCounter) -> Unit:
    """`unit` cut to at most `limit` content tokens: what its tool calls take first, the rest
    shared fairly among its messages' texts."""
    if len(unit) == 1 and not unit[0][0].tool_calls and not unit[0][0].tool_call_id:
        return [_cut(unit[0][0], limit, 0, counter)]
    fixed = [fixed_tokens(m, counter) for m, _ in unit]
    texts = [max(size - f, 0) for (_, size), f in zip(unit, fixed, strict=True)]
    shares = _fair_shares(texts, limit - sum(fixed))
    return [
        sized if share >= text else _cut(sized[0], share, f, counter)
        for sized, text, share, f in zip(unit, texts, shares, fixed, strict=True)
    ]


def _cut(message: ChatMessage, limit: int, fixed: int, counter: TokenCounter) -> Sized:
    """`message` with its text cut to at most `limit` tokens and `tokens` set to the new
    count (`fixed`: what its tool calls take beside the text)."""
    text, tokens = _fit_text(message.content, limit, counter)
    if text == message.content and message.parts is None:  # its stored count was stale
        return message, tokens + fixed
    return replace(message, content=text, tokens=tokens + fixed, parts=None), tokens + fixed


def _fit_text(text: str, limit: int, counter: TokenCounter) -> tuple[str, int]:
    """Keep the head and tail of `text` around CUT_MARKER, in at most `limit` tokens."""
    if limit <= 0:
        return "", 0
    size = counter.count(text)
    if size <= limit:
        return text, size
    keep = limit - counter.count(CUT_MARKER)
    while keep >= 2:
        tail_tokens = keep // 2
        fitted = (
            counter.head(text, keep - tail_tokens) + CUT_MARKER + counter.tail(text, tail_tokens)
        )
        size = counter.count(fitted)
        if size <= limit:
            return fitted, size
        keep -= size - limit  # the joins tokenised differently: shrink by the excess and retry
    # No room for the marker and both ends: keep the head only.
    head = counter.head(text, limit)
    return head, counter.count(head)
