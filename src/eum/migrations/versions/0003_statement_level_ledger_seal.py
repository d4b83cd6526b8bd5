"""statement-level ledger seal on PostgreSQL; cap usage by member and month

Cap usage is read per (member, month) for a whole batch of payments: an index on those
columns keeps that a lookup (the primary key starts with the rule).

The same sealing protocol as 0001 (postings first, then the entry row, which must find
its postings summing to zero; no posting joins a sealed entry), checked once per
statement over its transition table instead of once per row, so that a batch of
thousands of entries written by one COPY is checked by one query. SQLite keeps its row
triggers (SQLite has no statement-level triggers; its row triggers are cheap).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENT_TRIGGERS = [
    "DROP TRIGGER ledger_seal_entry ON journal_entries",
    "DROP TRIGGER ledger_sealed_posting ON postings",
    "DROP FUNCTION ledger_seal_entry()",
    "DROP FUNCTION ledger_sealed_posting()",
    """
    CREATE FUNCTION ledger_seal_entries() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE bad record;
    BEGIN
      SELECT e.id, COUNT(p.entry_id) AS n, COALESCE(SUM(p.amount), 0) AS s INTO bad
      FROM new_entries e LEFT JOIN postings p ON p.entry_id = e.id
      GROUP BY e.id
      HAVING COUNT(p.entry_id) = 0 OR COALESCE(SUM(p.amount), 0) <> 0
      LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'ledger: unbalanced entry % (% postings, sum %)', bad.id, bad.n, bad.s;
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_seal_entries AFTER INSERT ON journal_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_seal_entries()
    """,
    """
    CREATE FUNCTION ledger_sealed_postings() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE sealed bigint;
    BEGIN
      SELECT p.entry_id INTO sealed
      FROM new_postings p JOIN journal_entries e ON e.id = p.entry_id
      LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'ledger: entry % already sealed', sealed;
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_sealed_postings AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_sealed_postings()
    """,
]

ROW_TRIGGERS = [
    "DROP TRIGGER ledger_seal_entries ON journal_entries",
    "DROP TRIGGER ledger_sealed_postings ON postings",
    "DROP FUNCTION ledger_seal_entries()",
    "DROP FUNCTION ledger_sealed_postings()",
    """
    CREATE FUNCTION ledger_seal_entry() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE n bigint; s numeric;
    BEGIN
      SELECT COUNT(*), COALESCE(SUM(amount), 0) INTO n, s FROM postings WHERE entry_id = NEW.id;
      IF n = 0 OR s <> 0 THEN
        RAISE EXCEPTION 'ledger: unbalanced entry % (% postings, sum %)', NEW.id, n, s;
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER ledger_seal_entry AFTER INSERT ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_seal_entry()
    """,
    """
    CREATE FUNCTION ledger_sealed_posting() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) THEN
        RAISE EXCEPTION 'ledger: entry % already sealed', NEW.entry_id;
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER ledger_sealed_posting BEFORE INSERT ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_sealed_posting()
    """,
]


def upgrade() -> None:
    op.create_index("ix_cap_usage_member_month", "cap_usage", ["member_id", "month"])
    if op.get_bind().dialect.name == "postgresql":
        for ddl in STATEMENT_TRIGGERS:
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for ddl in ROW_TRIGGERS:
            op.execute(ddl)
    op.drop_index("ix_cap_usage_member_month", "cap_usage")
