"""The tables the code declares are the tables the migrations build, on both databases:
a column, index or constraint added to one and not the other fails here."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from eum.schema import metadata


def test_the_migrated_schema_is_the_declared_one(engine: Engine) -> None:
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
