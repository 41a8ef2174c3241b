"""Middle-out context trimming: fit a prompt into a token budget by removing its middle."""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from simplechat.llm.tokens import TokenCounter
from simplechat.llm.types import ChatMessage, Role

# Tokens each message costs for its role and framing, on top of its content (OpenAI-style).
MESSAGE_OVERHEAD = 4
# Put between the kept head and tail of a message cut inside its text; its tokens count.
CUT_MARKER = "\n…\n"
# A history message is cut rather than dropped only if at least this many tokens would survive;
# a shorter fragment is noise.
MIN_FRAGMENT_TOKENS = 32
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


def middle_out(messages: Sequence[ChatMessage], budget: int, counter: TokenCounter) -> Truncated:
    """Fit `messages` into `budget` tokens, removing from the middle of the conversation.

    `messages` is: leading system messages, history turns (oldest first), the final message.
    A message costs its `tokens` (or `counter.count(content)` when `tokens` is None) plus
    MESSAGE_OVERHEAD. Stored `tokens` are trusted; only messages that get cut are tokenised.

    1. If everything fits, the messages come back unchanged.
    2. Otherwise whole history messages are removed from the centre outwards (centre, one older,
       one newer, ...) until the rest fits, so the oldest and newest turns survive longest. If
       that leaves at least MIN_FRAGMENT_TOKENS unused, the last removed message is kept, cut
       to the room left (head and tail joined by CUT_MARKER) instead of dropped.
    3. If the system messages and the final message do not fit even without history, the
       final message is cut (half head, half tail, CUT_MARKER between). The system messages
       are cut too only if they would leave the final message less than 1/FINAL_MIN_SHARE of
       the content budget; several system messages share their budget fairly (short ones stay
       whole, long ones are cut to the same length).

    Edge cases:
    - No messages: an empty result. One message: it is the final message.
    - Only the *leading* system messages are protected; a system message inside the history
      is history. If every message is a system message, the last one is the final message.
    - Removing history can leave two consecutive messages with the same role.
    - A budget below the fixed overheads (MESSAGE_OVERHEAD per system message and the final
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

    n_sys = _count_leading_systems(msgs[:-1])
    ends = [*zip(msgs[:n_sys], sizes[:n_sys], strict=True), (msgs[-1], sizes[-1])]
    room = budget - sum(size + MESSAGE_OVERHEAD for _, size in ends)
    if room >= 0:
        history = _trim_history(msgs[n_sys:-1], sizes[n_sys:-1], room, counter)
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
    return counter.count(message.content)


def _count_leading_systems(messages: Sequence[ChatMessage]) -> int:
    n = 0
    while n < len(messages) and messages[n].role == Role.SYSTEM:
        n += 1
    return n


def _trim_history(
    history: Sequence[ChatMessage], sizes: Sequence[int], room: int, counter: TokenCounter
) -> list[Sized]:
    """Remove a centred block of `history` so the rest fits `room` (overheads included)."""
    costs = [size + MESSAGE_OVERHEAD for size in sizes]
    kept_cost = sum(costs)
    lo = hi = len(history) // 2  # history[lo:hi] is removed
    take_newer = True
    last = -1
    while kept_cost > room:  # ends: with everything removed, 0 <= room
        if (take_newer and hi < len(history)) or lo == 0:
            last, hi = hi, hi + 1
        else:
            lo -= 1
            last = lo
        take_newer = not take_newer
        kept_cost -= costs[last]

    left = [*zip(history[:lo], sizes[:lo], strict=True)]
    right = [*zip(history[hi:], sizes[hi:], strict=True)]
    limit = room - kept_cost - MESSAGE_OVERHEAD
    if last < 0 or limit < MIN_FRAGMENT_TOKENS:
        return left + right
    # `last` is an edge of the removed block, so either way the fragment sits in the gap.
    return [*left, _cut(history[last], limit, counter), *right]


def _cut_ends(ends: Sequence[Sized], budget: int, counter: TokenCounter) -> list[Sized]:
    """Cut the final message, then if need be the system messages, to fit `budget` together."""
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
    if text == message.content:  # its stored count was stale: it fits whole
        return message, tokens
    return replace(message, content=text, tokens=tokens), tokens


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
