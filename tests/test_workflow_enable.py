"""enableWhen derived from the KB (workflow/enable.py): each condition found by clingo, following an edited KB."""

from __future__ import annotations

import pytest

from conftest import CONTINUATION, INITIAL, edited_kb, vary
from lemtrada_asp.case.pas.schema import answer_items
from lemtrada_asp.engine.policy import Policy
from lemtrada_asp.workflow.enable import enable_when, enabled

QUESTIONS = [item.link_id for item in answer_items()]


def conditions(rules: dict, link_id: str) -> list[tuple]:
    return [(c["question"], c["operator"], c.get("answerBoolean", c.get("answerCoding", {}).get("code")))
            for c in rules.get(link_id, {}).get("enableWhen", [])]


@pytest.fixture(scope="module")
def shipped() -> dict:
    return enable_when(Policy.load())


def test_disease_activity_is_asked_only_for_secondary_progressive_ms_at_an_initial_review(shipped):
    assert ("diagnosis.ms_course", "=", "secondary_progressive") in conditions(shipped, "diagnosis.active")
    assert ("lemtrada_courses", "exists", False) in conditions(shipped, "diagnosis.active")
    spms = vary(INITIAL, {"diagnosis.ms_course": "secondary_progressive"})
    assert "diagnosis.active" in enabled(shipped, spms, QUESTIONS)
    assert "diagnosis.active" not in enabled(shipped, INITIAL, QUESTIONS)
    assert "diagnosis.active" not in enabled(shipped, vary(CONTINUATION, {"diagnosis.ms_course": "secondary_progressive"}), QUESTIONS)


def test_treatment_response_is_asked_only_at_continuation_and_step_therapy_only_at_an_initial_review(shipped):
    for item in ("response.objective", "response.symptoms"):
        assert conditions(shipped, item) == [("lemtrada_courses", "exists", True)]
    assert conditions(shipped, "dmt_history") == [("lemtrada_courses", "exists", False)]
    shown = enabled(shipped, CONTINUATION, QUESTIONS)
    assert "response.objective" in shown and "dmt_history" not in shown
    shown = enabled(shipped, INITIAL, QUESTIONS)
    assert "response.objective" not in shown and "dmt_history" in shown


def test_the_consultation_is_asked_only_when_the_specialty_does_not_settle_i1(shipped):
    assert conditions(shipped, "prescriber.consultation_with_specialist") == [
        ("prescriber.specialty", "!=", "neurology"), ("prescriber.specialty", "!=", "ms_specialist")]
    assert "prescriber.consultation_with_specialist" in enabled(shipped, vary(INITIAL, {"prescriber.specialty": "other"}), QUESTIONS)


def test_every_question_the_chart_and_date_rules_read_is_always_asked(shipped):
    for item in ("chart_date", "diagnosis.condition", "diagnosis.ms_course", "concurrent_dmts", "hiv_positive", "lemtrada_courses"):
        assert item not in shipped


def test_conditions_never_form_a_cycle(shipped):
    graph = {q: {c["question"] for c in rule["enableWhen"]} for q, rule in shipped.items()}

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph.get(start, ()))

    assert not any(reaches(q, q) for q in graph)


def test_an_edited_kb_that_reads_activity_for_rrms_too_asks_for_it_there(tmp_path):
    kb = edited_kb(tmp_path, "criteria/i3_ms_form.lp", replace=(
        'finding(K, "I3.a", met, ms_course(K, relapsing_remitting)) :-\n    has_ms(K), ms_course(K, relapsing_remitting).',
        'finding(K, "I3.a", met, ms_course(K, relapsing_remitting)) :-\n    has_ms(K), ms_course(K, relapsing_remitting), disease_active(K, true).\n'
        'finding(K, "I3.a", undocumented, absent("diagnosis.active")) :-\n    has_ms(K), ms_course(K, relapsing_remitting), not has_activity(K).\n'
        'finding(K, "I3.a", not_met, disease_active(K, false)) :-\n    has_ms(K), ms_course(K, relapsing_remitting), disease_active(K, false).'))
    edited = enable_when(Policy.load(kb))
    assert ("diagnosis.ms_course", "=", "secondary_progressive") not in conditions(edited, "diagnosis.active")
    assert "diagnosis.active" in enabled(edited, INITIAL, QUESTIONS)  # relapsing-remitting now needs activity
    assert "diagnosis.active" not in enabled(edited, vary(INITIAL, {"diagnosis.ms_course": "primary_progressive"}), QUESTIONS)
