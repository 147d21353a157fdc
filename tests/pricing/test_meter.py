"""Charging periods built from OCPP meter values."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cpo_backend.pricing import (
    Interval,
    MeterSample,
    build_charging_periods,
    price_session,
    render_charging_periods,
)
from tests.pricing.helpers import BERLIN, element, local, pc, tariff

D = Decimal


def _samples(start: str, *rows: tuple[int, str, str | None]) -> list[MeterSample]:
    """(minutes after start, register Wh, power W) rows."""
    t0 = local(start)
    return [
        MeterSample(t0 + timedelta(minutes=m), D(wh), None if w is None else D(w))
        for m, wh, w in rows
    ]


def test_time_of_day_boundary_is_interpolated() -> None:
    t = tariff(element(pc("ENERGY", "0.20"), end_time="17:00"), element(pc("ENERGY", "0.30")))
    samples = _samples("2024-06-04 16:50", (0, "1000", None), (20, "3000", None))
    periods = build_charging_periods(
        samples, samples[0].timestamp, samples[-1].timestamp, tariff=t, tz=BERLIN
    )
    assert [(p.start.astimezone(BERLIN).strftime("%H:%M"), p.energy_kwh) for p in periods] == [
        ("16:50", D(1)),
        ("17:00", D(1)),
    ]
    assert all(p.tariff_id == "T1" for p in periods)


def test_parking_after_full_battery_and_charger_pause() -> None:
    rows = ((0, "0", "10000"), (60, "10000", "10000"), (61, "10000", "0"), (90, "10000", "0"))
    samples = _samples("2024-06-04 10:00", *rows)
    start, stop = samples[0].timestamp, samples[-1].timestamp
    periods = build_charging_periods(samples, start, stop)
    assert [(p.charging_s, p.parking_s) for p in periods] == [(D(3660), D(0)), (D(0), D(1740))]
    # The same stretch paused by the charger (SuspendedEVSE) is charging time, not parking.
    paused = build_charging_periods(samples, start, stop, suspended_evse=[Interval(start, stop)])
    assert [(p.charging_s, p.parking_s) for p in paused] == [(D(5400), D(0))]


def test_ev_idle_status_marks_parking() -> None:
    samples = _samples("2024-06-04 10:00", (0, "0", None), (30, "5000", None), (60, "5000", None))
    start, stop = samples[0].timestamp, samples[-1].timestamp
    idle = Interval(start + timedelta(minutes=45), stop)
    periods = build_charging_periods(samples[:2], start, stop, ev_idle=[idle])
    assert [(p.charging_s, p.parking_s) for p in periods] == [(D(2700), D(0)), (D(0), D(900))]


def test_power_threshold_crossing_is_interpolated() -> None:
    # Power rises linearly from 10 kW to 30 kW in an hour: it crosses 16 kW after 18 minutes.
    t = tariff(element(pc("ENERGY", "0.20"), max_power=D(16)), element(pc("ENERGY", "0.50")))
    samples = _samples("2024-06-04 10:00", (0, "0", "10000"), (60, "20000", "30000"))
    periods = build_charging_periods(
        samples, samples[0].timestamp, samples[-1].timestamp, tariff=t, tz=BERLIN
    )
    assert [p.start.astimezone(BERLIN).strftime("%H:%M") for p in periods] == ["10:00", "10:18"]
    assert periods[0].power_kw.maximum == D(16)
    assert periods[0].energy_kwh == D(6)  # 20 kWh shared out in proportion to time
    result = price_session(t, periods, BERLIN)
    assert [c.element_index for p in result.periods for c in p.charges] == [0, 1]


def test_kwh_threshold_and_reservation() -> None:
    t = tariff(element(pc("ENERGY", "0.40"), max_kwh=D(5)), element(pc("ENERGY", "0.20")))
    samples = _samples("2024-06-04 10:00", (0, "100000", None), (60, "110000", None))
    start, stop = samples[0].timestamp, samples[-1].timestamp
    periods = build_charging_periods(
        samples, start, stop, tariff=t, reserved_since=start - timedelta(minutes=10)
    )
    assert [p.reservation_s for p in periods] == [D(600), D(0), D(0)]
    assert [p.energy_kwh for p in periods[1:]] == [D(5), D(5)]
    assert periods[2].start == start + timedelta(minutes=30)


def test_without_tariff_periods_change_only_with_state() -> None:
    rows = [(m, str(m * 100), "6000") for m in range(0, 65, 5)]
    samples = _samples("2024-06-04 10:00", *rows)
    periods = build_charging_periods(samples, samples[0].timestamp, samples[-1].timestamp)
    assert len(periods) == 1
    assert periods[0].energy_kwh == D(6)
    (cdr_period,) = render_charging_periods(periods)
    assert {d["type"] for d in cdr_period["dimensions"]} == {
        "ENERGY",
        "TIME",
        "MIN_POWER",
        "MAX_POWER",
    }
    (session_period,) = render_charging_periods(periods, session=True)
    assert {"type": "POWER", "volume": 6} in session_period["dimensions"]
