"""CRD's coverage answer (workflow/coverage.py), each from a real decision by clingo."""

from __future__ import annotations

import pytest

from lemtrada_asp.case.model import validate_case
from lemtrada_asp.engine.engine import Engine
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.workflow.coverage import CoverageAnswer, coverage_answer

from conftest import CONTINUATION, DELETE, INITIAL, edited_kb, vary


def answer(engine: Engine, data: dict) -> CoverageAnswer:
    return coverage_answer(engine.decide([("test", validate_case(data, "test"))])[0])


def test_an_approvable_order_is_covered_with_prior_authorisation_and_no_documentation(engine):
    got = answer(engine, INITIAL)
    assert (got.covered, got.pa_needed, got.doc_needed, got.missing, got.failing, got.decision) == (
        "covered", "auth-needed", None, (), (), "approve")
    assert got.doc_purpose == ()


def test_an_order_with_undocumented_criteria_is_conditional_and_names_them(engine):
    got = answer(engine, vary(INITIAL, {"chart_date": DELETE, "member.birth_date": DELETE}))
    assert (got.covered, got.pa_needed, got.doc_needed, got.decision) == ("conditional", "auth-needed", "clinical", "pend:information")
    assert got.missing == ("I0", "I2")
    assert got.doc_purpose == ("withpa",)
    assert got.failing == ()


def test_a_concurrent_dmt_is_not_covered_naming_the_criterion_and_the_exclusion(engine):
    got = answer(engine, vary(INITIAL, {"concurrent_dmts": ["ocrelizumab"]}))
    assert (got.covered, got.pa_needed, got.doc_needed, got.decision) == ("not-covered", None, None, "deny")
    assert set(got.failing) == {"I6", "E1"}


def test_a_third_course_is_conditional_for_case_by_case_review(engine):
    third = vary(CONTINUATION, {"lemtrada_courses": [{"start_date": "2024-03-01", "days": 3},
                                                     {"start_date": "2023-03-01", "days": 5}]})
    got = answer(engine, third)
    assert (got.covered, got.pa_needed, got.doc_needed, got.decision) == ("conditional", "auth-needed", "clinical", "pend:case_by_case")
    assert got.missing == () and got.failing == ()


def test_failed_step_therapy_in_a_mandate_state_is_conditional_not_denied(tmp_path):
    kb = edited_kb(tmp_path, "state_mandates.lp", append='state_mandate("TX", "I4").')
    engine = Engine(KnowledgeBase(kb))
    got = answer(engine, vary(INITIAL, {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"},
                                                       {"drug": "fingolimod", "outcome": "failed"}]}))
    assert (got.covered, got.pa_needed, got.doc_needed, got.decision) == ("conditional", "auth-needed", "clinical", "pend:state_mandate")


@pytest.mark.parametrize("field", ["covered", "pa_needed", "doc_needed"])
def test_every_code_is_one_of_the_crd_value_sets(engine, field):
    allowed = {"covered": {"covered", "not-covered", "conditional"},
               "pa_needed": {"no-auth", "auth-needed", "satisfied", "performpa", "conditional", None},
               "doc_needed": {"clinical", "admin", "both", "conditional", None}}[field]
    cases = [INITIAL, vary(INITIAL, {"chart_date": DELETE}), vary(INITIAL, {"hiv_positive": True}), CONTINUATION]
    assert {getattr(answer(engine, c), field) for c in cases} <= allowed
