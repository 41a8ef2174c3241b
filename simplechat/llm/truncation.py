"""Middle-out context trimming: fit a prompt into a token budget by removing its middle."""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from simplechat.llm.tokens import IMAGE_TOKENS, TokenCounter
from simplechat.llm.types import ChatMessage, Role

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
    prompt_tokens: int  # counted size of `messages`, overhead included
    dropped_tokens: int  # original size minus `prompt_tokens` (whole messages and cut text)
    dropped_messages: int  # whole messages removed
    cut_messages: int  # messages shortened inside their text

    @property
    def truncated(self) -> bool:
        return self.dropped_messages > 0 or self.cut_messages > 0


def middle_out(
    messages: Sequence[ChatMessage],
    budget: int,
    counter: TokenCounter,
    *,
    keep_first: int | None = None,
) -> Truncated:
    """Fit `messages` into `budget` tokens, removing from the middle of the conversation.

    `messages` is: the leading messages kept whole when they can be (`keep_first` of them: a
    preset's system and few-shot messages; by default the leading system messages), the
    history (oldest first), the final message. A message costs its `tokens` (or its counted
    text plus IMAGE_TOKENS per image when `tokens` is None) plus MESSAGE_OVERHEAD. Stored
    `tokens` are trusted; only messages that get cut are tokenised.

    1. If everything fits, the messages come back unchanged.
    2. Otherwise the history keeps its head and its tail and loses what lies between. Of the
       room the kept and final messages leave (`room`), HEAD_SHARE_PERCENT is the head's:
       - the head is the oldest history messages that fit the head's share whole;
       - the tail is the newest messages that fit what the head did not take; but when the
         head's share still has room for a fragment (MIN_FRAGMENT_TOKENS), that room stays
         the head's, for the next-oldest message cut to fit (a long first message survives
         as its beginning and end instead of disappearing);
       - room still left then goes to one message cut inside its text: the head's next one
         when the head's room was kept for it, else the tail's next-older one, if at least
         MIN_FRAGMENT_TOKENS of it would fit. Everything else between is dropped.
    3. If the kept and final messages do not fit even without history, the final message is
       cut (half head, half tail, CUT_MARKER between). The kept messages are cut too only if
       they would leave the final message less than 1/FINAL_MIN_SHARE of the content budget;
       they share their budget fairly (short ones stay whole, long ones are cut to the same
       length).

    Edge cases:
    - No messages: an empty result. One message: it is the final message.
    - `keep_first` is capped to all but the final message. By default only the *leading*
      system messages are kept; a system message inside the history is history. If every
      message is a system message, the last one is the final message.
    - A message cut inside its text loses its images (its `parts`): it becomes text only.
    - Removing history can leave two consecutive messages with the same role.
    - A budget below the fixed overheads (MESSAGE_OVERHEAD per kept message and the final
      message) cannot be met: every surviving message keeps empty content and
      `prompt_tokens` exceeds `budget`. A budget only slightly above them may also leave
      contents empty. Never raises; a negative budget behaves like 0.
    - A stored `tokens` count that disagrees with the text is believed when deciding what to
      remove; a message that is cut gets its real, counted `tokens`.
    """
    msgs = tuple(messages)
    if not msgs:
        return Truncated((), 0, 0, 0, 0)
    sizes = [_content_tokens(m, counter) for m in msgs]
    total = sum(sizes) + MESSAGE_OVERHEAD * len(msgs)
    if total <= budget:
        return Truncated(msgs, total, 0, 0, 0)

    if keep_first is None:
        n_keep = _count_leading_systems(msgs[:-1])
    else:
        n_keep = max(0, min(keep_first, len(msgs) - 1))
    ends = [*zip(msgs[:n_keep], sizes[:n_keep], strict=True), (msgs[-1], sizes[-1])]
    room = budget - sum(size + MESSAGE_OVERHEAD for _, size in ends)
    if room >= 0:
        history = _trim_history(msgs[n_keep:-1], sizes[n_keep:-1], room, counter)
        kept = [*ends[:-1], *history, ends[-1]]
    else:
        kept = _cut_ends(ends, budget, counter)

    originals = {id(m) for m in msgs}
    prompt = sum(size for _, size in kept) + MESSAGE_OVERHEAD * len(kept)
    return Truncated(
        messages=tuple(m for m, _ in kept),
        prompt_tokens=prompt,
        dropped_tokens=total - prompt,
        dropped_messages=len(msgs) - len(kept),
        cut_messages=sum(1 for m, _ in kept if id(m) not in originals),
    )


# Sized = (message, content tokens): sizes travel with messages so nothing is counted twice.
Sized = tuple[ChatMessage, int]


def _content_tokens(message: ChatMessage, counter: TokenCounter) -> int:
    if message.tokens is not None:
        return max(message.tokens, 0)
    return counter.count(message.content) + IMAGE_TOKENS * message.images


def _count_leading_systems(messages: Sequence[ChatMessage]) -> int:
    n = 0
    while n < len(messages) and messages[n].role == Role.SYSTEM:
        n += 1
    return n


def _trim_history(
    history: Sequence[ChatMessage], sizes: Sequence[int], room: int, counter: TokenCounter
) -> list[Sized]:
    """Keep the head (HEAD_SHARE_PERCENT of `room`) and the tail (the rest) of `history`,
    with at most one message cut in the gap; overheads included. Called only when the whole
    history does not fit `room`."""
    costs = [size + MESSAGE_OVERHEAD for size in sizes]
    head_room = room * HEAD_SHARE_PERCENT // 100
    head_end, head_used = 0, 0  # history[:head_end] is the head
    while head_end < len(history) and head_used + costs[head_end] <= head_room:
        head_used += costs[head_end]
        head_end += 1
    # Room for a fragment left in the head's share stays the head's (see middle_out, 2.).
    head_keeps_room = head_room - head_used >= MIN_FRAGMENT_TOKENS + MESSAGE_OVERHEAD
    tail_room = room - (head_room if head_keeps_room else head_used)
    tail_start, tail_used = len(history), 0  # history[tail_start:] is the tail
    while tail_start > head_end and tail_used + costs[tail_start - 1] <= tail_room:
        tail_start -= 1
        tail_used += costs[tail_start]

    head = [*zip(history[:head_end], sizes[:head_end], strict=True)]
    tail = [*zip(history[tail_start:], sizes[tail_start:], strict=True)]
    limit = room - head_used - tail_used - MESSAGE_OVERHEAD
    if tail_start == head_end or limit < MIN_FRAGMENT_TOKENS:
        return head + tail
    edge = head_end if head_keeps_room else tail_start - 1
    return [*head, _cut(history[edge], limit, counter), *tail]


def _cut_ends(ends: Sequence[Sized], budget: int, counter: TokenCounter) -> list[Sized]:
    """Cut the final message, then if need be the kept messages, to fit `budget` together."""
    *systems, (_, final_size) = ends
    available = max(budget - MESSAGE_OVERHEAD * len(ends), 0)
    system_total = sum(size for _, size in systems)
    floor = -(-available // FINAL_MIN_SHARE)  # rounded up: the final message outranks the system
    final_limit = min(final_size, max(available - system_total, floor))
    limits = [
        *_fair_shares([size for _, size in systems], available - final_limit),
        final_limit,
    ]
    return [
        (message, size) if limit >= size else _cut(message, limit, counter)
        for (message, size), limit in zip(ends, limits, strict=True)
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


def _cut(message: ChatMessage, limit: int, counter: TokenCounter) -> Sized:
    """`message` with its text cut to at most `limit` tokens and `tokens` set to the new count."""
    text, tokens = _fit_text(message.content, limit, counter)
    if text == message.content and message.parts is None:  # its stored count was stale
        return message, tokens
    return replace(message, content=text, tokens=tokens, parts=None), tokens


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
