"""Calendar arithmetic as the spec defines it ("Dates"), and the measures the KB judges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lemtrada_asp.case.dates import add_months, age_in_years, last_dose, months_back, months_since


@pytest.mark.parametrize(
    "day,months,expected",
    [
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # the spec's example
        (date(2026, 5, 31), -3, date(2026, 2, 28)),  # the spec's example
        (date(2024, 5, 31), -3, date(2024, 2, 29)),  # leap year
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 3, 10), 0, date(2026, 3, 10)),
    ],
)
def test_calendar_months_clamp_to_the_last_day_of_the_month(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    "birth,on,expected",
    [
        (date(2008, 5, 1), date(2026, 5, 1), 18),
        (date(2008, 5, 2), date(2026, 5, 1), 17),
        (date(2008, 2, 29), date(2026, 2, 28), 17),  # a leap-day birthday is not reached on 28 Feb
        (date(2008, 2, 29), date(2026, 3, 1), 18),
    ],
)
def test_age_is_in_completed_years(birth, on, expected):
    assert age_in_years(birth, on) == expected


def brute_months_back(earlier: date, reference: date) -> int:
    n = 0
    while add_months(reference, -n) > earlier:
        n += 1
    return n


def brute_months_since(earlier: date, later: date) -> int:
    n = -2
    while add_months(earlier, n + 1) <= later:
        n += 1
    return n


def test_months_back_is_the_least_m_with_reference_minus_m_months_on_or_before_the_date():
    reference = date(2026, 5, 31)
    for offset in range(0, 800, 3):
        earlier = reference - timedelta(days=offset)
        assert months_back(earlier, reference) == brute_months_back(earlier, reference), earlier
    for reference in (date(2024, 3, 31), date(2026, 3, 1), date(2026, 12, 31)):
        for offset in range(0, 400):
            earlier = reference - timedelta(days=offset)
            assert months_back(earlier, reference) == brute_months_back(earlier, reference)


def test_months_since_is_the_greatest_m_with_the_date_plus_m_months_on_or_before_the_later():
    for earlier in (date(2024, 2, 29), date(2025, 1, 31), date(2025, 8, 15)):
        for offset in range(0, 800, 2):
            later = earlier + timedelta(days=offset)
            assert months_since(earlier, later) == brute_months_since(earlier, later), (earlier, later)


def test_the_last_dose_is_the_start_plus_days_minus_one():
    assert last_dose(date(2025, 3, 1), 5) == date(2025, 3, 5)
    assert last_dose(date(2025, 2, 27), 3) == date(2025, 3, 1)
    assert last_dose(date(2025, 3, 1), 1) == date(2025, 3, 1)
