"""Usage: the SQLite ledger, the price table, and budgets."""
