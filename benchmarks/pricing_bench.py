"""How many CDRs per second the pricing engine prices.

A six-element time-of-day tariff (four ENERGY rates over the day, a TIME and a PARKING_TIME
rate) over a 100-period session of ten minutes each, so many periods straddle a rate change
and get split. Runs for a bounded time and prints its figures:

    .venv/bin/python benchmarks/pricing_bench.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cpo_backend.pricing import ChargingPeriod, parse_tariff, price_session, render_charging_periods
from cpo_backend.pricing.model import Tariff

PERIODS = 100


def six_element_tariff() -> Tariff:
    def energy(price: str, start: str, end: str) -> dict[str, Any]:
        components = [
            {"type": "ENERGY", "price": Decimal(price), "vat": Decimal(19), "step_size": 1}
        ]
        return {
            "price_components": components,
            "restrictions": {"start_time": start, "end_time": end},
        }

    return parse_tariff(
        {
            "country_code": "DE",
            "party_id": "CPO",
            "id": "TOD6",
            "currency": "EUR",
            "elements": [
                energy("0.29", "00:00", "06:00"),
                energy("0.39", "06:00", "11:00"),
                energy("0.35", "11:00", "16:00"),
                energy("0.49", "16:00", "21:00"),
                {
                    "price_components": [
                        {
                            "type": "TIME",
                            "price": Decimal("0.60"),
                            "vat": Decimal(19),
                            "step_size": 60,
                        }
                    ]
                },
                {
                    "price_components": [
                        {
                            "type": "FLAT",
                            "price": Decimal("0.50"),
                            "vat": Decimal(19),
                            "step_size": 1,
                        },
                        {
                            "type": "ENERGY",
                            "price": Decimal("0.33"),
                            "vat": Decimal(19),
                            "step_size": 1,
                        },
                        {
                            "type": "PARKING_TIME",
                            "price": Decimal("6.00"),
                            "vat": Decimal(19),
                            "step_size": 300,
                        },
                    ]
                },
            ],
            "last_updated": "2024-01-01T00:00:00Z",
        }
    )


def session() -> list[ChargingPeriod]:
    start = datetime(2024, 6, 3, 5, 3, 17, tzinfo=UTC)
    step = timedelta(minutes=10)
    periods = []
    for i in range(PERIODS):
        begin = start + i * step
        charging = i < PERIODS - 10  # the last 100 minutes are parking
        periods.append(
            ChargingPeriod(
                start=begin,
                end=begin + step,
                energy_kwh=Decimal("1.234") if charging else Decimal(0),
                charging_s=Decimal(600) if charging else Decimal(0),
                parking_s=Decimal(0) if charging else Decimal(600),
            )
        )
    return periods


def measure(label: str, work: Any, seconds: float) -> float:
    done = 0
    began = time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        work()
        done += 1
    rate = done / elapsed
    print(f"{label}: {rate:,.0f} CDRs/s ({done} in {elapsed:.2f} s, {1000 / rate:.2f} ms each)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    args = parser.parse_args()
    tariff = six_element_tariff()
    periods = session()
    cdr = {
        "start_date_time": "2024-06-03T05:03:17Z",
        "end_date_time": "2024-06-03T21:43:17Z",
        "charging_periods": render_charging_periods(periods),
    }
    result = price_session(tariff, periods, "Europe/Berlin")
    print(
        f"session: {PERIODS} periods -> {len(result.periods)} priced pieces, "
        f"total {result.total_cost.rounded.incl_vat} {result.currency} incl. VAT"
    )
    measure(
        "periods in, parsed tariff",
        lambda: price_session(tariff, periods, "Europe/Berlin"),
        args.seconds,
    )
    measure(
        "OCPI CDR dict in, with to_json()",
        lambda: price_session(tariff, cdr, "Europe/Berlin").to_json(),
        args.seconds,
    )


if __name__ == "__main__":
    main()
