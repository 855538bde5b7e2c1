"""The decision rules (criteria.md, "Decision") and the minimal explanations, through clingo."""

from __future__ import annotations

import shutil

import pytest

from conftest import CONTINUATION, DELETE, INITIAL, KB_DIR, ids, vary
from lemtrada_asp.engine.engine import Engine
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.case.model import validate_case


def test_an_approvable_first_course_is_approved_for_60_mg_as_60_units_of_j0202(decide):
    got = decide(INITIAL)
    assert (got["decision"], got["pend_reason"], got["review_type"], got["course"]) == ("approve", None, "initial", 1)
    assert got["authorized"] == {"mg": 60, "mg_per_day": 12, "days": 5, "hcpcs": [{"code": "J0202", "units": 60}]}
    assert got["failed"] == [] and got["missing"] == []


def test_an_approvable_second_course_is_approved_for_36_mg(decide):
    got = decide(CONTINUATION)
    assert (got["decision"], got["review_type"], got["course"]) == ("approve", "continuation", 2)
    assert got["authorized"]["mg"] == 36 and got["authorized"]["hcpcs"] == [{"code": "J0202", "units": 36}]


def test_approvals_carry_the_three_advisories_and_other_decisions_none(decide):
    advisories = decide(INITIAL)["advisories"]
    assert len(advisories) == 3
    assert any("corticosteroid" in a for a in advisories)
    assert any("herpes" in a for a in advisories)
    assert any("REMS" in a for a in advisories)
    assert decide(vary(INITIAL, {"chart_date": DELETE}))["advisories"] == []


def test_a_third_course_that_meets_every_criterion_pends_case_by_case(decide):
    courses = [{"start_date": "2023-01-01", "days": 5}, {"start_date": "2024-01-10", "days": 3}]
    got = decide(vary(CONTINUATION, {"lemtrada_courses": courses}))
    assert (got["decision"], got["pend_reason"], got["course"], got["authorized"]) == ("pend", "case_by_case", 3, None)


def test_missing_documentation_pends_for_information_with_what_is_needed(decide):
    got = decide(vary(INITIAL, {"chart_date": DELETE, "member.birth_date": DELETE}))
    assert (got["decision"], got["pend_reason"]) == ("pend", "information")
    assert ids(got["missing"]) == ["I0", "I2"]
    assert "3 months" in got["missing"][0]["needed"]
    assert "date of birth" in got["missing"][1]["needed"]


def test_a_failed_criterion_denies_even_when_documentation_is_also_missing(decide):
    got = decide(vary(INITIAL, {"chart_date": DELETE, "request.days": 3}))
    assert (got["decision"], ids(got["failed"]), ids(got["missing"])) == ("deny", ["I7"], ["I0"])


def test_a_missing_criterion_on_a_third_course_pends_for_information_not_case_by_case(decide):
    courses = [{"start_date": "2023-01-01", "days": 5}, {"start_date": "2024-01-10", "days": 3}]
    got = decide(vary(CONTINUATION, {"lemtrada_courses": courses, "response": DELETE}))
    assert (got["decision"], got["pend_reason"]) == ("pend", "information")


def test_a_17_year_old_fails_age_without_the_pediatric_exclusion(decide):
    got = decide(vary(INITIAL, {"member.birth_date": "2009-01-01"}))
    assert (got["decision"], ids(got["failed"])) == ("deny", ["I2"])


def test_a_16_year_old_fails_age_and_is_excluded(decide):
    got = decide(vary(INITIAL, {"member.birth_date": "2010-01-01"}))
    assert ids(got["failed"]) == ["I2", "E6"]
    assert got["failed"][1]["status"] == "applies"


def test_failed_criteria_are_listed_in_policy_order(decide):
    got = decide(vary(INITIAL, {"hiv_positive": True, "request.days": 3, "concurrent_dmts": ["ocrelizumab"],
                                "request.diagnosis_codes": ["G37.9"]}))
    assert ids(got["failed"]) == ["I5", "I6", "I7", "B1", "E1", "E5"]


def test_explanations_hold_only_the_failing_branch_down_to_the_leaves(decide):
    got = decide(vary(INITIAL, {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"},
                                                {"drug": "fingolimod", "outcome": "failed"}]}))
    [i4] = got["failed"]
    assert i4["id"] == "I4" and i4["section"] == "Initial criteria, 4"
    assert i4["reasons"] == [{
        "id": "I4.a", "title": "Natalizumab (Tysabri) tried and failed, or unable to use",
        "status": "not_met", "because": ["dmt_history[0]: natalizumab outcome effective"],
    }]


def test_an_any_of_criterion_that_failed_lists_all_its_children(decide):
    got = decide(vary(INITIAL, {"diagnosis": {"condition": "multiple_sclerosis",
                                              "ms_course": "secondary_progressive", "active": False}}))
    i3 = next(f for f in got["failed"] if f["id"] == "I3")
    assert [(r["id"], r["status"], r["because"]) for r in i3["reasons"]] == [
        ("I3.a", "not_met", ["diagnosis.ms_course: secondary_progressive"]),
        ("I3.b", "not_met", ["diagnosis.active: false"]),
    ]


def test_a_nested_any_of_is_explained_down_to_each_drug(decide):
    history = [{"drug": "natalizumab", "outcome": "failed"}] + [
        {"drug": d, "outcome": "effective"} for d in ("dimethyl_fumarate", "fingolimod", "teriflunomide")
    ]
    got = decide(vary(INITIAL, {"dmt_history": history}))
    [i4] = got["failed"]
    assert [(r["id"], r["status"], r["because"]) for r in i4["reasons"]] == [
        ("I4.b", "not_met", []),
        ("I4.b.i", "not_met", ["dmt_history[1]: dimethyl_fumarate outcome effective"]),
        ("I4.b.ii", "not_met", ["dmt_history[2]: fingolimod outcome effective"]),
        ("I4.b.iii", "not_met", ["dmt_history[3]: teriflunomide outcome effective"]),
    ]


def test_a_missing_any_of_says_which_documentation_would_settle_it(decide):
    got = decide(vary(INITIAL, {"dmt_history": [{"drug": "natalizumab", "outcome": "failed"}]}))
    [i4] = got["missing"]
    assert [r["id"] for r in i4["reasons"]] == ["I4.b", "I4.b.i", "I4.b.ii", "I4.b.iii"]
    assert "dimethyl fumarate" in i4["needed"] and "fingolimod" in i4["needed"] and "teriflunomide" in i4["needed"]
    assert "natalizumab" not in i4["needed"]


def test_a_leaf_criterion_is_its_own_reason_with_its_facts(decide):
    got = decide(vary(INITIAL, {"member.birth_date": "2009-01-01"}))
    assert got["failed"][0]["reasons"] == [{
        "id": "I2", "title": "Member is 18 years of age or older", "status": "not_met",
        "because": ["member.birth_date 2009-01-01: age 17 on request.date 2026-05-01"],
    }]


def test_nothing_that_passed_appears_as_a_reason(decide):
    got = decide(vary(INITIAL, {"hiv_positive": True}))
    i5 = next(f for f in got["failed"] if f["id"] == "I5")
    assert [r["id"] for r in i5["reasons"]] == ["I5.a"]


def state_mandate_kb(tmp_path, fact: str) -> Engine:
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    (kb / "state_mandates.lp").write_text((KB_DIR / "state_mandates.lp").read_text() + fact + "\n")
    return Engine(KnowledgeBase(kb))


STEP_FAILURE = vary(INITIAL, {"dmt_history": [{"drug": "fingolimod", "outcome": "failed"}], "member.state": "TX"})


def test_a_step_therapy_failure_in_a_mandate_state_pends_for_a_clinician(tmp_path):
    engine = state_mandate_kb(tmp_path, 'state_mandate("TX", "I4").')
    case = validate_case(vary(STEP_FAILURE, {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"}]}), "t")
    got = engine.decide([("t", case)])[0].to_json()
    assert (got["decision"], got["pend_reason"], ids(got["failed"])) == ("pend", "state_mandate", ["I4"])


def test_the_shipped_kb_has_no_state_mandates_so_the_same_case_is_denied(decide):
    got = decide(vary(STEP_FAILURE, {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"}]}))
    assert (got["decision"], ids(got["failed"])) == ("deny", ["I4"])


@pytest.mark.parametrize(
    "changes",
    [
        {"member.state": "CA"},  # another state
        {"member.state": DELETE},  # no state
        {"request.days": 3},  # a failure that is not [s]
        {"concurrent_dmts": ["ocrelizumab"]},  # an exclusion applies
    ],
)
def test_the_state_mandate_needs_the_state_only_s_failures_and_no_exclusion(tmp_path, changes):
    engine = state_mandate_kb(tmp_path, 'state_mandate("TX", "I4").')
    base = vary(STEP_FAILURE, {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"}]})
    got = engine.decide([("t", validate_case(vary(base, changes), "t"))])[0].to_json()
    assert got["decision"] == "deny"


def test_a_case_decides_the_same_alone_and_in_a_batch(engine):
    variants = [INITIAL, CONTINUATION, vary(INITIAL, {"chart_date": DELETE}), vary(INITIAL, {"hiv_positive": True})]
    cases = [(f"s{i}", validate_case(vary(v, {"id": f"B-{i}"}), "t")) for i, v in enumerate(variants)]
    together = [d.to_json() for d in engine.decide(cases)]
    alone = [engine.decide([c])[0].to_json() for c in cases]
    assert together == alone
    assert [d["decision"] for d in together] == ["approve", "approve", "pend", "deny"]
