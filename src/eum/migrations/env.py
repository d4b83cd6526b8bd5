"""Alembic environment: migrations run on the engine handed over by ``eum.migrate``."""

from __future__ import annotations

from alembic import context

from eum.schema import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: build one from the settings
    from eum.config import settings
    from eum.db import make_engine

    engine = make_engine(settings().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
