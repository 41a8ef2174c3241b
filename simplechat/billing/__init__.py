"""Billing: prices, credits (balances, holds, the ledger), redeem codes and usage."""
