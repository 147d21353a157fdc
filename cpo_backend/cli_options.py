"""What every ``cpo-backend`` command shares: the ``--config`` option and loading it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpo_backend.config import Settings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (CPO_* env vars override it)."),
]


def settings_from(config: Path | None) -> Settings:
    """The settings of ``config`` and the environment; a missing file is a usage error."""
    try:
        return load_settings(config)
    except FileNotFoundError as error:
        raise typer.BadParameter(str(error)) from None
