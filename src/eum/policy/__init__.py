"""Issuers, cashback and fee-support rules, budgets: what the city and districts decide."""
