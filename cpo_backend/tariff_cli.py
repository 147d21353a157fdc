"""``cpo-backend tariff price``: price a CDR under a tariff from the command line.

Operators use it to answer a driver's question about a CDR without touching the database:
feed it the tariff and the CDR as JSON files and read the totals and the explanation.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from cpo_backend.pricing import PricingError, price_session

tariff_app = typer.Typer(no_args_is_help=True)


@tariff_app.callback()
def tariff() -> None:
    """OCPI tariff tools."""
    # A callback keeps `price` a subcommand; Typer would otherwise promote a lone command.


def _load(path: Path) -> dict[str, Any]:
    try:
        # parse_float=Decimal keeps every price exactly as written in the file.
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path}: expected a JSON object")
    return data


@tariff_app.command()
def price(
    tariff: Annotated[Path, typer.Option(help="OCPI 2.2.1 Tariff object (JSON file).")],
    cdr: Annotated[
        Path, typer.Option(help="OCPI CDR (JSON): start/end_date_time and charging_periods.")
    ],
    tz: Annotated[str, typer.Option(help="Location time_zone (IANA name).")] = "UTC",
) -> None:
    """Print the OCPI total_* fields of the CDR and the breakdown of every amount, as JSON."""
    try:
        result = price_session(_load(tariff), _load(cdr), tz)
    except PricingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(json.dumps(result.to_json(), indent=2))
