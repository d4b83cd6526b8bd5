"""Members, their one card, their wallet (cashback + charged), charges and withdrawals."""
