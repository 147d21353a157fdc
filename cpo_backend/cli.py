"""The ``cpo-backend`` command line."""

from __future__ import annotations

import asyncio
import gc
import signal
from typing import Annotated

import typer

from cpo_backend.cli_options import ConfigOption, settings_from
from cpo_backend.config import Settings
from cpo_backend.logs import configure_logging
from cpo_backend.ocpi.cli import ocpi_app
from cpo_backend.tariff_cli import tariff_app

app = typer.Typer(help="Charge Point Operator back-end: OCPP central system and OCPI CPO.")
db_app = typer.Typer(help="Database maintenance.")
app.add_typer(db_app, name="db")
app.add_typer(tariff_app, name="tariff", help="Price sessions and check CDRs against tariffs.")
app.add_typer(ocpi_app, name="ocpi", help="OCPI roaming: token A and registration.")


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the OCPP listener and the HTTP API until Ctrl-C."""
    settings = settings_from(config)
    configure_logging(settings.logging)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # uvloop is optional: Windows has none
        pass
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    from cpo_backend.app import CpoBackend

    backend = CpoBackend(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await backend.start()
    # Every frame allocates a few dozen short-lived containers; at thousands of frames per
    # second the default thresholds run the cyclic collector hundreds of times a second
    # over the long-lived state of every connection. Freeze what start-up built and
    # collect the youngest generation less often.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    typer.echo(
        f"cpo-backend: OCPP on ws://{settings.ocpp.host}:{backend.ocpp_port}"
        f"{settings.ocpp.path_prefix}/<charge point id>, "
        f"API on http://{settings.http.host}:{backend.http_port}/docs (Ctrl-C stops)",
        err=True,
    )
    await stop.wait()
    await backend.stop()


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Apply the database migrations (serve does this too at start)."""
    from cpo_backend.db.migrate import upgrade

    settings = settings_from(config)
    upgrade(settings.database.url, revision)
    typer.echo(f"database at {revision}")


def main() -> None:
    app()
