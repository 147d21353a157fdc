"""The Alembic chain builds exactly the schema the code declares, on both databases."""

from __future__ import annotations

import asyncio

from alembic import command

from cpo_backend.db.migrate import alembic_config, upgrade


async def test_migrations_match_the_declared_schema(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    # Raises if upgrading to the heads leaves anything the models declare undone.
    await asyncio.to_thread(command.check, alembic_config(database_url))


async def test_migrations_run_down_and_up_again(database_url: str) -> None:
    config = alembic_config(database_url)
    await asyncio.to_thread(upgrade, database_url)
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(upgrade, database_url)
    await asyncio.to_thread(command.check, config)
