"""A model's price, as the catalog declares it: pure values and their validation.

Prices are in credits per 1,000 tokens (whatever the operator makes a credit mean), as
`Decimal`. Two modes:

- simple: one input and one output price;
- tiered: the prices are chosen by the prompt's token count. Each tier covers
  `from_tokens <= prompt_tokens < to_tokens`; the first starts at 0, each next one starts where
  the previous one ends (no gap, no overlap), and only the last is open (`to_tokens` None).

The arithmetic (a turn's cost, rounding, storage units) is billing's (`billing/rules.py`).
"""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Tier:
    from_tokens: int
    to_tokens: int | None  # None: open (the last tier)
    input: Decimal  # credits per 1,000 prompt tokens
    output: Decimal  # credits per 1,000 completion tokens


@dataclass(frozen=True, slots=True)
class Price:
    """Simple: one tier from 0, open. Tiered: several (see `tier_problems`)."""

    tiers: tuple[Tier, ...]

    @classmethod
    def simple(cls, input: Decimal, output: Decimal) -> "Price":
        return cls((Tier(0, None, input, output),))

    @property
    def tiered(self) -> bool:
        return len(self.tiers) > 1

    def tier_for(self, prompt_tokens: int) -> Tier:
        """The tier whose range holds `prompt_tokens` (a valid price always has one)."""
        for tier in self.tiers:
            if tier.to_tokens is None or prompt_tokens < tier.to_tokens:
                return tier
        return self.tiers[-1]


def tier_problems(tiers: tuple[Tier, ...]) -> list[str]:
    """What is wrong with a list of tiers, as sentences (empty when valid).

    Checked: at least one tier; the first starts at 0; each ends after it starts; each next one
    starts exactly where the previous ended; only the last is open; prices are not negative.
    """
    if not tiers:
        return ["a tiered price needs at least one tier"]
    problems: list[str] = []
    if tiers[0].from_tokens != 0:
        problems.append(f"the first tier must start at 0, not {tiers[0].from_tokens}")
    for number, tier in enumerate(tiers, start=1):
        last = number == len(tiers)
        if tier.input < 0 or tier.output < 0:
            problems.append(f"tier {number}: prices cannot be negative")
        if tier.to_tokens is None:
            if not last:
                problems.append(f"tier {number}: only the last tier may be open (give 'to')")
            continue
        if last:
            problems.append(f"tier {number}: the last tier must be open (leave out 'to')")
        if tier.to_tokens <= tier.from_tokens:
            problems.append(f"tier {number}: 'to' ({tier.to_tokens}) must be above 'from'")
        if not last and tiers[number].from_tokens != tier.to_tokens:
            gap = "a gap" if tiers[number].from_tokens > tier.to_tokens else "an overlap"
            problems.append(
                f"tier {number + 1} must start at {tier.to_tokens}, where tier {number} ends "
                f"({gap} otherwise)"
            )
    return problems


@dataclass(frozen=True, slots=True)
class MediaPrice:
    """A speech or picture engine's price, in credits: per second of audio (speech engines)
    or per picture (picture engines). None: that kind is free."""

    per_second: Decimal | None = None
    per_picture: Decimal | None = None
