"""Each leaf rule of the KB, through clingo: one fact of an approvable case changed.

Every test starts from an approvable initial or continuation case (conftest.py)
and checks the status the leaf gets, so a rule that stops firing, or fires for
the wrong fact, fails here.
"""

from __future__ import annotations

import pytest

from conftest import CONTINUATION, DELETE, INITIAL, vary


def test_the_base_cases_meet_every_criterion(statuses):
    initial = statuses(INITIAL)
    assert {k: v for k, v in initial.items() if not k.startswith("E")} == {
        **{i: "met" for i in ["I0", "I1", "I2", "I3", "I4", "I5", "I6", "I7", "B1"]},
        "I3.a": "met", "I3.b": "not_met", "I4.a": "met", "I4.b": "met", "I4.b.i": "undocumented",
        "I4.b.ii": "met", "I4.b.iii": "undocumented", "I5.a": "met", "I5.b": "met",
    }
    continuation = statuses(CONTINUATION)
    assert {k: v for k, v in continuation.items() if not k.startswith("E")} == {
        **{i: "met" for i in ["C0", "C1", "C2", "C3", "C4", "B1"]}, "C2.a": "met", "C2.b": "met",
    }


@pytest.mark.parametrize(
    "chart_date,expected",
    [
        ("2026-05-01", "met"),  # the request day itself
        ("2026-02-01", "met"),  # exactly 3 calendar months before
        ("2026-01-31", "undocumented"),  # one day older
        (DELETE, "undocumented"),
    ],
)
def test_initial_chart_notes_must_be_within_three_calendar_months(statuses, chart_date, expected):
    assert statuses(vary(INITIAL, {"chart_date": chart_date}))["I0"] == expected


@pytest.mark.parametrize(
    "chart_date,expected", [("2026-02-28", "met"), ("2026-02-27", "undocumented")]
)
def test_three_months_before_the_31st_of_may_clamps_to_the_end_of_february(statuses, chart_date, expected):
    case = vary(INITIAL, {"request.date": "2026-05-31", "chart_date": chart_date})
    assert statuses(case)["I0"] == expected


@pytest.mark.parametrize(
    "chart_date,expected", [("2025-11-01", "met"), ("2025-10-31", "undocumented"), (DELETE, "undocumented")]
)
def test_continuation_chart_notes_must_be_within_six_calendar_months(statuses, chart_date, expected):
    assert statuses(vary(CONTINUATION, {"chart_date": chart_date}))["C0"] == expected


@pytest.mark.parametrize(
    "prescriber,expected",
    [
        ({"specialty": "neurology"}, "met"),
        ({"specialty": "ms_specialist"}, "met"),
        ({"specialty": "other", "consultation_with_specialist": True}, "met"),
        ({"consultation_with_specialist": True}, "met"),
        ({"specialty": "other", "consultation_with_specialist": False}, "not_met"),
        ({"specialty": "other"}, "undocumented"),
        ({"consultation_with_specialist": False}, "undocumented"),
        ({}, "undocumented"),
    ],
)
def test_the_prescriber_must_be_or_consult_a_neurologist_or_ms_specialist(statuses, prescriber, expected):
    assert statuses(vary(INITIAL, {"prescriber": prescriber}))["I1"] == expected
    assert statuses(vary(CONTINUATION, {"prescriber": prescriber}))["C1"] == expected


@pytest.mark.parametrize(
    "birth_date,expected",
    [
        ("2008-05-01", "met"),  # 18th birthday on the request date
        ("2008-05-02", "not_met"),  # 18 the day after
        ("1950-01-01", "met"),
        (DELETE, "undocumented"),
    ],
)
def test_the_member_must_be_18_on_the_request_date(statuses, birth_date, expected):
    assert statuses(vary(INITIAL, {"member.birth_date": birth_date}))["I2"] == expected


@pytest.mark.parametrize(
    "diagnosis,expected_a,expected_b",
    [
        ({"condition": "multiple_sclerosis", "ms_course": "relapsing_remitting"}, "met", "not_met"),
        ({"condition": "multiple_sclerosis", "ms_course": "secondary_progressive", "active": True}, "not_met", "met"),
        ({"condition": "multiple_sclerosis", "ms_course": "secondary_progressive", "active": False}, "not_met", "not_met"),
        ({"condition": "multiple_sclerosis", "ms_course": "secondary_progressive"}, "not_met", "undocumented"),
        ({"condition": "multiple_sclerosis", "ms_course": "primary_progressive", "active": True}, "not_met", "not_met"),
        ({"condition": "multiple_sclerosis", "ms_course": "unspecified"}, "undocumented", "undocumented"),
        ({"condition": "multiple_sclerosis"}, "undocumented", "undocumented"),
        ({"condition": "Multiple Sclerosis", "ms_course": "relapsing_remitting"}, "met", "not_met"),
        ({"condition": "clinically_isolated_syndrome"}, "not_met", "not_met"),
        ({"condition": "crohns_disease"}, "not_met", "not_met"),
        ({}, "undocumented", "undocumented"),
    ],
)
def test_the_form_of_ms_must_be_relapsing_remitting_or_active_secondary_progressive(
    statuses, diagnosis, expected_a, expected_b
):
    got = statuses(vary(INITIAL, {"diagnosis": diagnosis}))
    assert (got["I3.a"], got["I3.b"]) == (expected_a, expected_b)


@pytest.mark.parametrize("outcome", ["failed", "intolerant", "contraindicated"])
def test_a_step_therapy_drug_counts_when_tried_and_failed_or_unable_to_use(statuses, outcome):
    for leaf, drug in [("I4.a", "natalizumab"), ("I4.b.i", "dimethyl_fumarate"),
                       ("I4.b.ii", "fingolimod"), ("I4.b.iii", "teriflunomide")]:
        got = statuses(vary(INITIAL, {"dmt_history": [{"drug": drug, "outcome": outcome}]}))
        assert got[leaf] == "met", (leaf, outcome)


def test_a_drug_that_worked_does_not_count_and_a_drug_never_tried_is_undocumented(statuses):
    got = statuses(vary(INITIAL, {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"}]}))
    assert got["I4.a"] == "not_met"
    assert got["I4.b.i"] == got["I4.b.ii"] == got["I4.b.iii"] == got["I4.b"] == "undocumented"
    assert got["I4"] == "not_met"


def test_one_qualifying_entry_for_a_drug_outweighs_an_effective_one(statuses):
    history = [{"drug": "Tysabri", "outcome": "effective"}, {"drug": "natalizumab", "outcome": "failed"}]
    assert statuses(vary(INITIAL, {"dmt_history": history}))["I4.a"] == "met"


def test_one_oral_drug_is_enough_for_i4b(statuses):
    history = [{"drug": "natalizumab", "outcome": "failed"}, {"drug": "Aubagio", "outcome": "failed"},
               {"drug": "dimethyl_fumarate", "outcome": "effective"}]
    got = statuses(vary(INITIAL, {"dmt_history": history}))
    assert (got["I4.b.i"], got["I4.b.iii"], got["I4.b"], got["I4"]) == ("not_met", "met", "met", "met")


@pytest.mark.parametrize(
    "changes,expected_a,expected_b",
    [
        ({"hiv_positive": True}, "not_met", "met"),
        ({"hiv_positive": DELETE}, "met", "met"),  # no evidence of HIV: never undocumented
        ({"active_infections": ["pneumonia"]}, "met", "not_met"),
        ({"active_infections": DELETE}, "met", "met"),
    ],
)
def test_there_must_be_no_evidence_of_hiv_or_active_infection(statuses, changes, expected_a, expected_b):
    got = statuses(vary(INITIAL, changes))
    assert (got["I5.a"], got["I5.b"]) == (expected_a, expected_b)


@pytest.mark.parametrize(
    "concurrent,expected", [(["ocrelizumab"], "not_met"), ([], "met"), (DELETE, "met")]
)
def test_lemtrada_must_be_used_alone(statuses, concurrent, expected):
    assert statuses(vary(INITIAL, {"concurrent_dmts": concurrent}))["I6"] == expected


@pytest.mark.parametrize(
    "dose,days,expected",
    [(12, 5, "met"), (12.0, 5, "met"), (12, 3, "not_met"), (12.5, 5, "not_met"), (10, 5, "not_met"),
     (12, 6, "not_met"), (10**12, 5, "not_met")],
)
def test_the_initial_dose_is_12_mg_a_day_for_5_days(statuses, dose, days, expected):
    case = vary(INITIAL, {"request.dose_mg_per_day": dose, "request.days": days})
    assert statuses(case)["I7"] == expected


@pytest.mark.parametrize("dose,days,expected", [(12, 3, "met"), (12, 5, "not_met"), (24, 3, "not_met")])
def test_a_continuation_dose_is_12_mg_a_day_for_3_days(statuses, dose, days, expected):
    case = vary(CONTINUATION, {"request.dose_mg_per_day": dose, "request.days": days})
    assert statuses(case)["C4"] == expected


@pytest.mark.parametrize(
    "codes,expected",
    [(["G35"], "met"), (["g35.a "], "met"), (["G35.C1"], "met"), (["G35.D"], "met"),
     (["G37.9", "G35.A"], "met"), (["G37.9"], "not_met"), ([], "undocumented"), (DELETE, "undocumented")],
)
def test_a_diagnosis_code_must_be_in_table_2(statuses, codes, expected):
    assert statuses(vary(INITIAL, {"request.diagnosis_codes": codes}))["B1"] == expected
    assert statuses(vary(CONTINUATION, {"request.diagnosis_codes": codes}))["B1"] == expected


@pytest.mark.parametrize(
    "response,expected_a,expected_b",
    [
        ({"objective": ["relapse_rate_reduced"]}, "met", "not_met"),
        ({"symptoms": ["walking_gait"]}, "not_met", "met"),
        ({"objective": [], "symptoms": []}, "not_met", "not_met"),
        ({}, "not_met", "not_met"),
        (DELETE, "undocumented", "undocumented"),
    ],
)
def test_continuation_needs_a_response_to_the_last_course(statuses, response, expected_a, expected_b):
    got = statuses(vary(CONTINUATION, {"response": response}))
    assert (got["C2.a"], got["C2.b"]) == (expected_a, expected_b)


@pytest.mark.parametrize(
    "course,start,expected",
    [
        # last dose = start + days - 1 = 2025-03-05; + 12 months = 2026-03-05
        ({"start_date": "2025-03-01", "days": 5}, "2026-03-05", "met"),
        ({"start_date": "2025-03-01", "days": 5}, "2026-03-04", "not_met"),
        # 2024-02-29 + 12 months clamps to 2025-02-28
        ({"start_date": "2024-02-29", "days": 1}, "2025-02-28", "met"),
        ({"start_date": "2024-02-29", "days": 1}, "2025-02-27", "not_met"),
    ],
)
def test_twelve_calendar_months_must_pass_after_the_last_dose(statuses, course, start, expected):
    case = vary(CONTINUATION, {"request.date": start, "chart_date": start, "lemtrada_courses": [course]})
    assert statuses(case)["C3"] == expected


def test_the_planned_start_date_not_the_request_date_counts_for_the_12_months(statuses):
    case = vary(CONTINUATION, {"request.date": "2026-02-01", "chart_date": "2026-01-15",
                               "request.start_date": "2026-03-05"})
    assert statuses(case)["C3"] == "met"
    assert statuses(vary(case, {"request.start_date": DELETE}))["C3"] == "not_met"


def test_the_latest_prior_course_is_the_one_that_counts_whatever_the_listing_order(statuses):
    courses = [{"start_date": "2025-09-01", "days": 3}, {"start_date": "2024-09-01", "days": 5}]
    assert statuses(vary(CONTINUATION, {"lemtrada_courses": courses}))["C3"] == "not_met"


@pytest.mark.parametrize(
    "changes,exclusion",
    [
        ({"concurrent_dmts": ["Ocrevus"]}, "E1"),
        ({"diagnosis": {"condition": "clinically_isolated_syndrome"}}, "E2"),
        ({"diagnosis": {"condition": "crohns_disease"}}, "E3"),
        ({"diagnosis": {"condition": "multiple_sclerosis", "ms_course": "primary_progressive"}}, "E4"),
        ({"hiv_positive": True}, "E5"),
        ({"active_infections": ["tuberculosis"]}, "E5"),
        ({"member.birth_date": "2009-05-02"}, "E6"),  # 16 on the request date
    ],
)
def test_each_exclusion_applies_on_its_evidence_and_only_it(statuses, changes, exclusion):
    got = statuses(vary(INITIAL, changes))
    applied = {k for k, v in got.items() if v == "applies"}
    assert applied == {exclusion}


def test_no_exclusion_applies_to_a_clean_case_nor_to_absent_facts(statuses):
    bare = {"id": "T-BARE", "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 5}}
    for case in (INITIAL, CONTINUATION, bare):
        got = statuses(case)
        assert {k: v for k, v in got.items() if k.startswith("E")} == {f"E{i}": "does_not_apply" for i in range(1, 7)}


@pytest.mark.parametrize("birth_date,applies", [("2009-05-01", False), ("2009-05-02", True)])
def test_the_pediatric_exclusion_starts_under_17(statuses, birth_date, applies):
    got = statuses(vary(INITIAL, {"member.birth_date": birth_date}))
    assert (got["E6"] == "applies") is applies
