"""Alembic, driven from code: ``cpo-backend db upgrade`` and the start of ``serve``.

The migration scripts live in the package, so an installed back-end can migrate its
database without an ``alembic.ini`` in the working directory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "heads") -> None:
    """Run the (blocking) migration in a thread: env.py starts its own event loop."""
    await asyncio.to_thread(upgrade, url, revision)
