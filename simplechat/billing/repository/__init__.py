"""Billing's storage: every query of the capability (the only billing code that imports
pymongo, beanie or `documents/`)."""

from simplechat.billing.repository.budgets import BudgetRepository
from simplechat.billing.repository.codes import CodeRepository, StoredCode
from simplechat.billing.repository.credits import CreditRepository, StaleHold
from simplechat.billing.repository.usage import UsageRepository

__all__ = [
    "BudgetRepository",
    "CodeRepository",
    "CreditRepository",
    "StaleHold",
    "StoredCode",
    "UsageRepository",
]
