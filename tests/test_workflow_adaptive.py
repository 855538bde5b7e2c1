"""The adaptive form (workflow/adaptive.py): each question chosen by clingo, the form ending once the decision is fixed."""

from __future__ import annotations

import copy

import pytest

from conftest import CONTINUATION, INITIAL, vary
from lemtrada_asp.engine.policy import Policy
from lemtrada_asp.workflow.adaptive import next_question
from lemtrada_asp.workflow.questions import get_path


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


def order_time(case: dict) -> dict:
    """What the order tells at order time: the request and the member."""
    return copy.deepcopy({k: case[k] for k in ("id", "request", "member") if k in case})


def put(case: dict, link_id: str, value) -> None:
    *parents, name = link_id.split(".")
    node = case
    for part in parents:
        node = node.setdefault(part, {})
    node[name] = copy.deepcopy(value)


def run(policy: Policy, full: dict) -> tuple[list[str], dict]:
    """Simulate the form: each answer taken from the full case."""
    case, answered = order_time(full), []
    while (question := next_question(policy, case, answered)) is not None:
        assert question not in answered, f"{question} asked twice"
        answered.append(question)
        value = get_path(full, question)
        if value is not None:
            put(case, question, value)
    return answered, case


def test_an_approvable_initial_request_asks_neither_activity_nor_consultation_nor_response(policy):
    asked, case = run(policy, INITIAL)
    assert "diagnosis.active" not in asked  # relapsing-remitting: activity decides nothing
    assert "prescriber.consultation_with_specialist" not in asked  # a neurologist already meets I1
    assert not {"response.objective", "response.symptoms"} & set(asked)  # initial review
    assert asked[0] == "lemtrada_courses"  # the review type first
    assert policy.decide(case).decision == policy.decide(INITIAL).decision == "approve"


def test_a_continuation_never_asks_for_step_therapy(policy):
    asked, case = run(policy, CONTINUATION)
    assert "dmt_history" not in asked
    assert "response.objective" in asked
    assert policy.decide(case).decision == "approve"


def test_secondary_progressive_ms_asks_for_disease_activity(policy):
    full = vary(INITIAL, {"diagnosis.ms_course": "secondary_progressive"})
    asked, case = run(policy, full)
    assert "diagnosis.active" in asked
    assert policy.decide(case).decision == "approve"


def test_a_concurrent_dmt_ends_the_form_at_once_with_a_denial_no_completion_can_change(policy):
    case = order_time(INITIAL)
    case["concurrent_dmts"] = ["ocrelizumab"]
    assert next_question(policy, case, ["concurrent_dmts"]) is None
    for completion in (dict(case, hiv_positive=False), {**case, **{k: INITIAL[k] for k in INITIAL if k not in case}}):
        assert policy.decide(completion).decision == "deny"


def test_with_one_criterion_left_open_the_form_asks_exactly_that_question(policy):
    case = vary(INITIAL, {"chart_date": None})
    del case["chart_date"]
    answered = [q for q in ("lemtrada_courses", "prescriber.specialty", "prescriber.consultation_with_specialist",
                            "diagnosis.condition", "diagnosis.ms_course", "diagnosis.active", "dmt_history",
                            "concurrent_dmts", "hiv_positive", "active_infections", "response.objective", "response.symptoms")]
    assert next_question(policy, case, answered) == "chart_date"
    assert next_question(policy, case, [*answered, "chart_date"]) is None  # left empty: pend, fixed


def test_a_history_the_space_cannot_hold_is_decided_from_its_own_facts(policy):
    full = vary(INITIAL, {"dmt_history": [{"drug": "natalizumab", "outcome": "failed"}, {"drug": "fingolimod", "outcome": "failed"},
                                          {"drug": "ocrelizumab", "outcome": "failed"}, {"drug": "ofatumumab", "outcome": "effective"},
                                          {"drug": "cladribine", "outcome": "intolerant"}]})
    asked, case = run(policy, full)
    assert "dmt_history" in asked
    assert policy.decide(case).decision == "approve"


@pytest.mark.parametrize("change", [
    {"hiv_positive": True}, {"diagnosis.condition": "Crohn's disease"}, {"diagnosis.ms_course": "primary_progressive"},
    {"prescriber.specialty": "other", "prescriber.consultation_with_specialist": False},
    {"diagnosis.ms_course": "secondary_progressive", "diagnosis.active": False},
    {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"}]},
])
def test_the_form_ends_with_the_decision_the_whole_case_gets(policy, change):
    full = vary(INITIAL, change)
    asked, case = run(policy, full)
    assert policy.decide(case).decision == policy.decide(full).decision == "deny"
    assert len(asked) <= 9


def test_an_empty_objective_answer_still_asks_for_symptoms_and_a_listed_one_does_not(policy):
    base = order_time(CONTINUATION)
    answered = ["lemtrada_courses", "chart_date", "prescriber.specialty", "prescriber.consultation_with_specialist",
                "diagnosis.condition", "diagnosis.ms_course", "diagnosis.active", "dmt_history", "concurrent_dmts",
                "hiv_positive", "active_infections", "response.objective"]
    for field in ("lemtrada_courses", "chart_date", "prescriber", "diagnosis"):
        base[field] = copy.deepcopy(CONTINUATION[field])
    empty = {**base, "response": {"objective": []}}
    assert next_question(policy, empty, answered) == "response.symptoms"  # C2 can still be met by a symptom
    listed = {**base, "response": {"objective": ["mri_activity_reduced"]}}
    assert next_question(policy, listed, answered) is None  # C2 met: approve, whatever the symptoms
    assert policy.decide(listed).decision == "approve"


def test_an_invalid_partial_case_is_an_input_error_naming_the_field(policy):
    from lemtrada_asp.engine.errors import InputError

    case = order_time(INITIAL)
    case["diagnosis"] = {"ms_course": "sometimes"}
    with pytest.raises(InputError) as caught:
        next_question(policy, case, ["diagnosis.ms_course"])
    assert "diagnosis.ms_course" in str(caught.value)
