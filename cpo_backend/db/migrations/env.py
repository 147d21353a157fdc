"""Alembic environment: async engines for both SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import warnings

from alembic import context
from sqlalchemy.engine import Connection

from cpo_backend.db import tables_ocpi  # noqa: F401  (registers the OCPI tables)
from cpo_backend.db.engine import create_engine
from cpo_backend.db.tables import Base

# The meter sample identity is an expression index (coalesce of the phase), which
# autogenerate can neither reflect nor compare; the resend tests prove it exists.
warnings.filterwarnings("ignore", message=".*expression-based index")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


asyncio.run(_run_async(context.config.attributes["database_url"]))
