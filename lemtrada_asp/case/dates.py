"""Calendar arithmetic exactly as the criteria catalogue fixes it ("Dates": months clamp, completed years).

The knowledge base never sees a date: it sees the integers measured here and judges
them against its own parameters (kb/parameters.lp). Each measure is defined so that
"within N months" or "at least N months" is a plain integer comparison with N,
whatever N an analyst sets.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """Shift by calendar months, clamping to the month's last day (2024-02-29 + 12 = 2025-02-28)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def age_in_years(birth: date, on: date) -> int:
    """Completed years: year(r) - year(b) - ((month(r), day(r)) < (month(b), day(b)))."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def months_back(earlier: date, reference: date) -> int:
    """Least M >= 0 with reference - M months <= earlier.

    So `earlier` is on or after `reference` minus N calendar months exactly when
    M <= N: the spec's "within the last N months".
    """
    if earlier >= reference:
        return 0
    months = (reference.year - earlier.year) * 12 + reference.month - earlier.month
    return months if add_months(reference, -months) <= earlier else months + 1


def months_since(earlier: date, later: date) -> int:
    """Greatest M with earlier + M months <= later (negative when later < earlier).

    So `later` is on or after `earlier` plus N calendar months exactly when M >= N:
    the spec's "at least N months since".
    """
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months if add_months(earlier, months) <= later else months - 1


def last_dose(start: date, days: int) -> date:
    """The last infusion day of a course: start + days - 1."""
    return start + timedelta(days=days - 1)
