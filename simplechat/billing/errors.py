"""Billing's errors (in the tree drawn in `kit/errors.py`)."""

from simplechat.billing.rules import to_credits
from simplechat.billing.types import Balance
from simplechat.kit.errors import Conflict, Gone, NotFound, PaymentRequired


def _money(balance: Balance) -> dict[str, str]:
    return {
        "balance": str(to_credits(balance.balance)),
        "available": str(to_credits(balance.available)),
        "on_hold": str(to_credits(balance.on_hold)),
    }


class InsufficientCredits(PaymentRequired):
    """The balance does not cover a turn's worst case (its prompt plus the reserved output)."""

    code = "insufficient_credits"

    def __init__(self, balance: Balance, needed: int, what: str = "this message") -> None:
        super().__init__(
            f"Not enough credits: {what} may cost up to {to_credits(needed)} credits and "
            f"{to_credits(balance.available)} are available. Redeem a code to add credits.",
            extra={**_money(balance), "needed": str(to_credits(needed))},
        )


class BalanceTooLow(Conflict):
    code = "balance_too_low"

    def __init__(self, balance: Balance, debit: int) -> None:
        super().__init__(
            f"Cannot take {to_credits(debit)} credits: only {to_credits(balance.available)} "
            "are available (the balance never goes below zero).",
            extra=_money(balance),
        )


class CreditsDisabled(NotFound):
    code = "credits_disabled"
    default_message = "Credits are not enabled on this server (SIMPLECHAT_CREDITS=on)."


class UserNotFound(NotFound):
    code = "user_not_found"
    default_message = "No such user."


class CodeNotFound(NotFound):
    code = "code_not_found"
    default_message = "No such redeem code: check it for typos."


class CodeUsed(Conflict):
    code = "code_used"
    default_message = "This redeem code has already been used."


class CodeDisabled(Conflict):
    code = "code_disabled"
    default_message = "This redeem code has been disabled."


class CodeExpired(Gone):
    code = "code_expired"
    default_message = "This redeem code has expired."


class BudgetExhausted(PaymentRequired):
    """A budget (a personal API key's `max_credits`) does not cover a turn's worst case."""

    code = "key_credit_limit"

    def __init__(self, available: int, needed: int, what: str = "this message") -> None:
        left = max(0, available)
        super().__init__(
            f"This API key has reached its credit limit (max_credits): {what} may cost "
            f"up to {to_credits(needed)} credits and the key has {to_credits(left)} left. "
            "Raise the key's max_credits or use another key.",
            extra={"key_credits_left": str(to_credits(left)), "needed": str(to_credits(needed))},
        )
