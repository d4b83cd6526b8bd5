"""Payments, refunds and settlement: where wallets, merchants and budgets meet."""
