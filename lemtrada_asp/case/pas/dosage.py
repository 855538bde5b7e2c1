"""The requested dose and days from a MedicationRequest (fhir-pas.md, "Dose and days", and version 2).

The case states one dose a day on a number of dosing days, and whether those
days are consecutive calendar days (``request.consecutive``). A daily count or
duration is a run of consecutive days (version 1); ``dayOfWeek``, a
``boundsPeriod`` and PAS's ``calendarPattern`` give the set of dosing days,
which is counted and checked for gaps rather than refused. What cannot be said
that way (given times of day, offsets, a dose range) is an error naming its
element, not a guess at what was meant.
"""

from __future__ import annotations

from datetime import date, timedelta
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


def dose_and_days(mr: dict, mr_path: str, problems: Problems, origins: dict[str, str],
                  anchor: date | None = None) -> dict:
    """``{"dose_mg_per_day", "days"[, "consecutive"]}`` as far as the dosage states them; problems for the rest.

    ``anchor`` is the planned start (the drug line's serviced date), where a
    weekday schedule without a ``boundsPeriod.start`` begins.
    """
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

    t_path = child(d_path, "timing")
    timing = dosage.get("timing") or {}
    r_path = child(t_path, "repeat")
    repeat = timing.get("repeat")
    if not isinstance(repeat, dict):
        problems.add(r_path, "required", "expected timing.repeat: a daily schedule with a count, boundsDuration or boundsPeriod")
        return found
    for name in ("when", "offset"):
        if repeat.get(name) not in (None, []):
            problems.add(child(r_path, name), "not-supported",
                         f"{name} is not supported: the case states one dose a day on its dosing days")
    weekdays = _weekdays(mr, timing, repeat, t_path, mr_path, problems)
    frequency = int(repeat.get("frequency", 1))
    unit, period = repeat.get("periodUnit", "d"), _number(repeat.get("period", 1))
    per_dose_day = frequency  # doses on one dosing day
    if weekdays is not None and unit == "wk" and period == 1 and frequency == len(weekdays):
        per_dose_day = 1  # "3 times a week, on Mon, Wed, Fri": one dose on each listed day
    else:
        if period != 1:
            problems.add(child(r_path, "period"), "not-supported",
                         f"expected period 1 (one daily dose on each dosing day), got {repeat.get('period')}")
        if unit != "d":
            problems.add(child(r_path, "periodUnit"), "not-supported",
                         f"expected periodUnit 'd' (or 'wk' with one dose on each listed day), got {unit!r}")
    if dose is not None:
        found["dose_mg_per_day"] = whole(dose * per_dose_day)
        origins["request.dose_mg_per_day"] = child(q_path, "value")

    count = None
    if repeat.get("count") is not None:
        count = int(repeat["count"])
        if count % per_dose_day:
            problems.add(child(r_path, "count"), "invalid",
                         f"expected a count that is a whole number of days at frequency {per_dose_day}, got {count}")
            return found
        count //= per_dose_day
    bounds = repeat.get("boundsPeriod") if isinstance(repeat.get("boundsPeriod"), dict) else None
    span = None
    if isinstance(repeat.get("boundsDuration"), dict):
        span = _duration_days(repeat["boundsDuration"])
        if span is None:
            problems.add(child(r_path, "boundsDuration"), "invalid",
                         "expected a boundsDuration of a whole number of days >= 1 (code 'd' or 'wk')")
            return found
    if weekdays is None and bounds is None:  # version 1: a run of consecutive days
        days, where = (count, "count") if count is not None else (span, "boundsDuration")
        if days is None:
            problems.add(r_path, "required", "expected the number of infusion days: timing.repeat.count, boundsDuration or boundsPeriod")
        else:
            found["days"], origins["request.days"] = days, child(r_path, where)
        return found
    dosing = _dosing_days(weekdays, bounds, span, count, anchor, r_path, problems)
    if dosing:
        found["days"] = len(dosing)
        origins["request.days"] = child(r_path, "count" if count is not None else "boundsPeriod" if bounds else "boundsDuration")
        if (dosing[-1] - dosing[0]).days + 1 != len(dosing):
            found["consecutive"] = False
            origins["request.consecutive"] = child(t_path, "repeat") if weekdays is None else _weekday_origin(timing, repeat, t_path, mr_path, mr)
    return found


# X12 678 (Ship/Delivery or Calendar Pattern Code), the value set of PAS's
# extension-timingcalendarpattern: the codes that name a set of weekdays
# (0 = Monday). A code that names something else ("as directed", "1st week of
# the month", half quantities) is not read as dosing days.
CALENDAR_PATTERN = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-timingcalendarpattern"
X12_678_WEEKDAYS = {
    "A": {0, 1, 2, 3, 4}, "B": {0, 1, 2, 3, 4, 5}, "C": {0, 1, 2, 3, 4, 5, 6},
    "D": {0}, "E": {1}, "F": {2}, "G": {3}, "H": {4}, "J": {5}, "K": {6},
    "L": {0, 1, 2, 3}, "O": {0, 1, 2, 3, 4}, "SB": {1, 2, 3, 4, 5}, "SG": {1, 2, 3, 4},
}
FHIR_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
MAX_SCHEDULE_DAYS = 366  # a course's dosing days are found within a year of its start


def _pattern_extensions(mr: dict, timing: dict, t_path: str, mr_path: str) -> list[tuple[dict, str]]:
    """PAS calendarPattern extensions on the Timing or on the MedicationRequest (its two contexts)."""
    found = [(e, child(t_path, "extension", k)) for k, e in enumerate(timing.get("extension") or [])
             if e.get("url") == CALENDAR_PATTERN]
    found += [(e, child(mr_path, "extension", k)) for k, e in enumerate(mr.get("extension") or [])
              if e.get("url") == CALENDAR_PATTERN]
    return found


def _weekday_origin(timing: dict, repeat: dict, t_path: str, mr_path: str, mr: dict) -> str:
    if repeat.get("dayOfWeek"):
        return child(t_path, "repeat", "dayOfWeek")
    patterns = _pattern_extensions(mr, timing, t_path, mr_path)
    return patterns[0][1] if patterns else child(t_path, "repeat")


def _weekdays(mr: dict, timing: dict, repeat: dict, t_path: str, mr_path: str, problems: Problems) -> set[int] | None:
    """The weekdays doses may fall on (dayOfWeek and calendarPattern together), None when unrestricted."""
    allowed: set[int] | None = None
    if repeat.get("dayOfWeek"):
        allowed = {FHIR_WEEKDAYS[d] for d in repeat["dayOfWeek"] if d in FHIR_WEEKDAYS}
    for ext, path in _pattern_extensions(mr, timing, t_path, mr_path):
        codes = [cd.get("code") for cd in (ext.get("valueCodeableConcept") or {}).get("coding") or []]
        known = [X12_678_WEEKDAYS[c] for c in codes if c in X12_678_WEEKDAYS]
        if not known:
            problems.add(child(path, "valueCodeableConcept"), "not-supported",
                         f"expected an X12 678 calendar pattern naming weekdays ({', '.join(X12_678_WEEKDAYS)}), got {codes}")
            return allowed
        allowed = known[0] if allowed is None else allowed & known[0]
    if allowed is not None and not allowed:
        problems.add(child(t_path, "repeat", "dayOfWeek"), "invalid",
                     "dayOfWeek and the calendar pattern leave no day to dose on")
    return allowed


def _dosing_days(weekdays: set[int] | None, bounds: dict | None, span: int | None, count: int | None,
                 anchor: date | None, r_path: str, problems: Problems) -> list[date]:
    """The dates of the course: from its start, each allowed weekday, until the count or the bounds end."""
    start = end = None
    try:
        if bounds and bounds.get("start"):
            start = date.fromisoformat(bounds["start"][:10])
        if bounds and bounds.get("end"):
            end = date.fromisoformat(bounds["end"][:10])
    except ValueError:
        problems.add(child(r_path, "boundsPeriod"), "invalid", "expected full dates (YYYY-MM-DD) in boundsPeriod")
        return []
    start = start or anchor
    if start is None:
        problems.add(child(r_path, "boundsPeriod", "start"), "required",
                     "expected the first day of the schedule (boundsPeriod.start, or the item's servicedPeriod)")
        return []
    if end is None and span is not None:
        end = start + timedelta(days=span - 1)
    if count is None and end is None:
        problems.add(r_path, "required", "expected how many dosing days: timing.repeat.count, or the end of boundsPeriod")
        return []
    last = min(end or date.max, start + timedelta(days=MAX_SCHEDULE_DAYS - 1))
    days: list[date] = []
    day = start
    while day <= last and (count is None or len(days) < count):
        if weekdays is None or day.weekday() in weekdays:
            days.append(day)
        day += timedelta(days=1)
    if count is not None and len(days) < count:
        problems.add(child(r_path, "count"), "invalid",
                     f"the schedule has {len(days)} dosing days between {start} and {last}, fewer than count {count}")
        return []
    if not days:
        problems.add(r_path, "invalid", f"the schedule has no dosing day between {start} and {last}")
    return days


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
