"""``cpo-backend ocpi ...``: registrations and projector replays from the command line.

Both commands work on the database of the configured back-end; ``register`` needs that
back-end to be running, because the partner calls our versions endpoint back during the
handshake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from cpo_backend.cli_options import ConfigOption, settings_from
from cpo_backend.config import Settings
from cpo_backend.db.migrate import upgrade_async
from cpo_backend.db.projection import set_checkpoint
from cpo_backend.ocpi.app import OcpiInterface
from cpo_backend.roaming.partners import (
    RegistrationFailed,
    new_credentials_token,
)

T = TypeVar("T")

ocpi_app = typer.Typer(no_args_is_help=True)


@ocpi_app.callback()
def ocpi() -> None:
    """OCPI roaming: credentials tokens and registrations."""


async def _with_interface(settings: Settings, work: Callable[[OcpiInterface], Awaitable[T]]) -> T:
    """Run ``work`` on the OCPI side of a back-end built but not serving: database only."""
    from cpo_backend.app import CpoBackend

    await upgrade_async(settings.database.url)
    backend = CpoBackend(settings)
    await backend.db.start()
    # Our URL is the running back-end's: its configured listener (no socket bound here).
    backend.public_address.listening_on(settings.http.host, settings.http.port)
    try:
        return await work(backend.roaming)
    finally:
        await backend.roaming.stop()
        await backend.db.close()


@ocpi_app.command("token-a")
def token_a(config: ConfigOption = None) -> None:
    """Issue a token A: give it and our versions URL to a partner so it can register."""

    async def work(interface: OcpiInterface) -> tuple[str, str]:
        created = await interface.context.partners.create_token_a(new_credentials_token())
        return created.token_a, interface.context.versions_url

    token, versions_url = asyncio.run(_with_interface(settings_from(config), work))
    typer.echo(f"token A:      {token}")
    typer.echo(f"versions URL: {versions_url}")


@ocpi_app.command("register")
def register(
    versions_url: Annotated[str, typer.Argument(help="The partner's OCPI versions URL.")],
    token_a: Annotated[str, typer.Argument(help="The token A the partner issued to us.")],
    config: ConfigOption = None,
) -> None:
    """Register with a partner platform (the back-end must be running: it is called back)."""

    async def work(interface: OcpiInterface) -> str:
        partner = await interface.registrar.register(versions_url, token_a)
        return f"registered: partner {partner.id}, roles {partner.roles}"

    try:
        typer.echo(asyncio.run(_with_interface(settings_from(config), work)))
    except RegistrationFailed as error:
        typer.echo(f"registration failed (OCPI status {error.code}): {error}", err=True)
        raise typer.Exit(1) from None


@ocpi_app.command("replay")
def replay(
    projector: Annotated[
        str, typer.Option(help="The projector to rebuild: sessions or catalogue-pushes.")
    ] = "sessions",
    after: Annotated[int, typer.Option(help="Replay the events after this event id.")] = 0,
    config: ConfigOption = None,
) -> None:
    """Rebuild an OCPI projector from the event log (run it with the back-end stopped).

    The sessions projector then creates the Sessions (and CDRs) a partner registered
    since would have had, and leaves alone what exists already.
    """

    async def work(interface: OcpiInterface) -> str:
        runner = next((r for r in interface.projectors if r.name == projector), None)
        if runner is None:
            names = ", ".join(r.name for r in interface.projectors)
            raise typer.BadParameter(f"no projector {projector!r} (there are: {names})")
        await set_checkpoint(interface.context.db, projector, after)
        return f"projector {projector} will replay the events after {after} at the next start"

    typer.echo(asyncio.run(_with_interface(settings_from(config), work)))
