"""`tariff price` prints the OCPI totals and the breakdown of a CDR priced under a tariff."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cpo_backend.tariff_cli import tariff_app
from tests.pricing.helpers import element, pc, tariff

CDR = {
    "start_date_time": "2024-06-03T07:30:00Z",
    "end_date_time": "2024-06-03T10:57:00Z",
    "charging_periods": [
        {
            "start_date_time": "2024-06-03T07:30:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 20.0}, {"type": "TIME", "volume": 2.75}],
        },
        {
            "start_date_time": "2024-06-03T10:15:00Z",
            "dimensions": [{"type": "PARKING_TIME", "volume": 0.7}],
        },
    ],
}


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, default=str), encoding="utf-8")
    return path


def test_price_command_prints_totals_and_breakdown(tmp_path: Path) -> None:
    t = tariff(
        element(pc("FLAT", "2.50", "15.0"), pc("ENERGY", "0.25", "10.0")),
        element(pc("PARKING_TIME", "5.00", "10.0", 300), start_time="09:00", end_time="18:00"),
    )
    tariff_file = _write(tmp_path / "tariff.json", json.loads(json.dumps(t, default=float)))
    cdr_file = _write(tmp_path / "cdr.json", CDR)
    result = CliRunner().invoke(
        tariff_app,
        ["price", "--tariff", str(tariff_file), "--cdr", str(cdr_file), "--tz", "Europe/Berlin"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    # Incl. VAT the components are 2.88 + 5.50 + 4.13 (exactly 2.875 and 4.125): the total is
    # their sum, 12.51, not the exact 12.50 rounded once (pricing/rounding.py).
    assert out["total_cost"] == {"excl_vat": 11.25, "incl_vat": 12.51}
    assert out["total_fixed_cost"] == {"excl_vat": 2.5, "incl_vat": 2.88}
    assert out["total_parking_cost"] == {"excl_vat": 3.75, "incl_vat": 4.13}
    assert out["total_energy"] == 20
    assert out["total_parking_time"] == 0.7
    assert out["breakdown"]["periods"][-1]["charges"][0]["element_index"] == 1


def test_price_command_reports_invalid_input(tmp_path: Path) -> None:
    tariff_file = _write(tmp_path / "tariff.json", {"id": "x"})
    cdr_file = _write(tmp_path / "cdr.json", CDR)
    result = CliRunner().invoke(
        tariff_app, ["price", "--tariff", str(tariff_file), "--cdr", str(cdr_file)]
    )
    assert result.exit_code == 1
    assert "invalid Tariff" in result.output
