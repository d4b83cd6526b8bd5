"""The double-entry ledger: accounts, journal entries, postings, balances, verification.

It knows no business words. Invariants it keeps:
- every entry's postings sum to zero, checked where the entry is built, asserted before
  it is written, and refused by the database itself (a trigger seals each entry);
- entries and postings are never updated or deleted (triggers refuse it);
- an account's balance row equals the sum of its postings and is changed only in the
  transaction that writes them, in ascending account id order;
- an account that may not go negative never does (a CHECK constraint).
"""
