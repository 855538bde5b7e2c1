"""The requested dose and days from a MedicationRequest (fhir-pas.md, "Dose and days").

Case format v1 can state one schedule only: the same mg every day on
consecutive days. So a dosage is read only when it says exactly that, and any
other schedule (weekly, alternate days, given times of day, a dose range) is an
error naming its element rather than a guess at what was meant.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .ids import UCUM
from .problems import Problems, child

DAYS_PER_UNIT = {"d": 1, "wk": 7}


def whole(value: Decimal) -> int | float:
    """A whole number as an int (``12``, not ``12.0``), else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _number(value: Any) -> Decimal:
    return Decimal(str(value))


def dose_and_days(mr: dict, mr_path: str, problems: Problems, origins: dict[str, str]) -> dict:
    """``{"dose_mg_per_day": .., "days": ..}`` as far as the dosage states them; problems for the rest."""
    dosages = mr.get("dosageInstruction") or []
    at = child(mr_path, "dosageInstruction")
    if len(dosages) != 1:
        problems.add(at, "required" if not dosages else "not-supported",
                     f"expected exactly one dosageInstruction (one daily dose on consecutive days), got {len(dosages)}")
        return {}
    d_path = child(at, 0)
    dosage = dosages[0]
    found: dict = {}

    q_path = child(d_path, "doseAndRate", 0, "doseQuantity")
    q = ((dosage.get("doseAndRate") or [{}])[0]).get("doseQuantity")
    dose = None
    if not isinstance(q, dict) or q.get("value") is None:
        problems.add(q_path, "required", "expected the daily dose as a doseQuantity in mg (a doseRange or no dose cannot be decided)")
    elif not _is_mg(q):
        problems.add(q_path, "invalid", f"expected a dose in mg (UCUM code 'mg'), got unit {q.get('code') or q.get('unit')!r}")
    elif _number(q["value"]) <= 0:
        problems.add(child(q_path, "value"), "invalid", f"expected a dose greater than 0 mg, got {q['value']}")
    else:
        dose = _number(q["value"])

    r_path = child(d_path, "timing", "repeat")
    repeat = (dosage.get("timing") or {}).get("repeat")
    if not isinstance(repeat, dict):
        problems.add(r_path, "required", "expected timing.repeat: a daily schedule with a count or boundsDuration")
        return found
    for name in ("dayOfWeek", "when", "offset"):
        if repeat.get(name) not in (None, []):
            problems.add(child(r_path, name), "not-supported",
                         f"{name} is not supported: case format v1 states one dose a day on consecutive days")
    frequency = int(repeat.get("frequency", 1))
    if _number(repeat.get("period", 1)) != 1:
        problems.add(child(r_path, "period"), "not-supported",
                     f"expected period 1 (a daily schedule on consecutive days), got {repeat.get('period')}")
    if repeat.get("periodUnit", "d") != "d":
        problems.add(child(r_path, "periodUnit"), "not-supported",
                     f"expected periodUnit 'd' (a daily schedule on consecutive days), got {repeat.get('periodUnit')!r}")
    if dose is not None:
        found["dose_mg_per_day"] = whole(dose * frequency)
        origins["request.dose_mg_per_day"] = child(q_path, "value")

    if repeat.get("count") is not None:
        count = int(repeat["count"])
        if count % frequency:
            problems.add(child(r_path, "count"), "invalid",
                         f"expected a count that is a whole number of days at frequency {frequency}, got {count}")
        else:
            found["days"] = count // frequency
            origins["request.days"] = child(r_path, "count")
    elif isinstance(repeat.get("boundsDuration"), dict):
        days = _duration_days(repeat["boundsDuration"])
        if days is None:
            problems.add(child(r_path, "boundsDuration"), "invalid",
                         "expected a boundsDuration of a whole number of days >= 1 (code 'd' or 'wk')")
        else:
            found["days"] = days
            origins["request.days"] = child(r_path, "boundsDuration")
    else:
        problems.add(r_path, "required", "expected the number of infusion days: timing.repeat.count or boundsDuration")
    return found


def _is_mg(q: dict) -> bool:
    if q.get("code") is not None:
        return q["code"] == "mg" and q.get("system") in (None, UCUM)
    return q.get("unit") == "mg"


def _duration_days(duration: dict) -> int | None:
    per = DAYS_PER_UNIT.get(duration.get("code"))
    if per is None or duration.get("value") is None or duration.get("system") not in (None, UCUM):
        return None
    days = _number(duration["value"]) * per
    if days != days.to_integral_value() or days < 1:
        return None
    return int(days)
