"""check-kb --workflow (workflow/proofs.py): each property proven on the shipped KB, and each able to fail.

A disagreement is planted -- a wrong CRD mapping, enableWhen rules derived from the
shipped KB but proven against an edited one, rules with a condition removed or
added, a question stripped of the input it gives -- and the proof must find it
with a witness that ``decide`` confirms.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, edited_kb
from lemtrada_asp.engine.policy import Policy
from lemtrada_asp.workflow.adaptive import Workflow
from lemtrada_asp.workflow.coverage import coverage_answer
from lemtrada_asp.workflow.enable import derive
from lemtrada_asp.workflow.proofs import prove
from lemtrada_asp.workflow.questions import get_path

RRMS_NEEDS_ACTIVITY = (
    'finding(K, "I3.a", met, ms_course(K, relapsing_remitting)) :-\n    has_ms(K), ms_course(K, relapsing_remitting).',
    'finding(K, "I3.a", met, ms_course(K, relapsing_remitting)) :-\n    has_ms(K), ms_course(K, relapsing_remitting), disease_active(K, true).\n'
    'finding(K, "I3.a", undocumented, absent("diagnosis.active")) :-\n    has_ms(K), ms_course(K, relapsing_remitting), not has_activity(K).\n'
    'finding(K, "I3.a", not_met, disease_active(K, false)) :-\n    has_ms(K), ms_course(K, relapsing_remitting), disease_active(K, false).')


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load()


@pytest.fixture(scope="module")
def shipped_rules(policy) -> dict:
    from lemtrada_asp.workflow.adaptive import workflow

    return derive(workflow(policy))


def verdict(verdicts, key):
    return next(v for v in verdicts if v.key == key)


@pytest.mark.slow
def test_every_property_is_proven_on_the_shipped_kb(policy):
    verdicts = prove(policy)
    assert [v.key for v in verdicts] == ["a", "b1", "b2", "b3", "c"]
    assert all(v.proven for v in verdicts), [(v.key, v.witnesses[:1]) for v in verdicts if not v.proven]
    assert any("I2" in n and "B1" in n for n in verdict(verdicts, "b3").notes)  # asked on the Claim, not the form


def test_a_crd_mapping_that_calls_a_third_course_covered_is_refuted_with_a_case_pas_pends(policy):
    def wrong(decision):
        answer = coverage_answer(decision)
        return dataclasses.replace(answer, covered="covered", doc_needed=None) if decision.pend_reason == "case_by_case" else answer

    a = verdict(prove(policy, coverage=wrong), "a")
    assert not a.proven
    [witness] = a.witnesses
    decided = policy.decide(witness.case)
    assert (decided.decision, decided.pend_reason) == ("pend", "case_by_case")
    assert wrong(decided).covered == "covered"


@pytest.mark.slow
def test_rules_derived_before_an_edit_are_refuted_on_the_edited_kb_with_a_case_decide_confirms(tmp_path, shipped_rules):
    edited = Policy.load(edited_kb(tmp_path, "criteria/i3_ms_form.lp", replace=RRMS_NEEDS_ACTIVITY))
    verdicts = prove(edited, rules=shipped_rules)
    b1 = verdict(verdicts, "b1")
    assert not b1.proven
    witness = next(w for w in b1.witnesses if "diagnosis.active is disabled" in w.says)
    hidden, answered = edited.decide(witness.case), edited.decide(witness.other)
    assert get_path(witness.case, "diagnosis.active") is None
    assert (hidden.decision, [c.id for c in hidden.missing]) != (answered.decision, [c.id for c in answered.missing])
    assert all(v.proven for v in prove(edited))  # rules derived from the edited KB follow it


def test_step_therapy_asked_at_continuation_is_out_of_place(policy, shipped_rules):
    rules = {k: v for k, v in shipped_rules.items() if k != "dmt_history"}
    b2 = verdict(prove(policy, rules=rules), "b2")
    assert not b2.proven
    [witness] = [w for w in b2.witnesses if "dmt_history" in w.says]
    assert policy.decide(witness.case).review_type == "continuation"


def test_a_response_hidden_at_continuation_leaves_c2_unasked(policy, shipped_rules):
    hidden = {"enableWhen": [{"question": "lemtrada_courses", "operator": "exists", "answerBoolean": False}], "enableBehavior": "all"}
    rules = {**shipped_rules, "response.objective": hidden, "response.symptoms": hidden}
    verdicts = prove(policy, rules=rules)
    b3 = verdict(verdicts, "b3")
    assert not b3.proven and not verdict(verdicts, "b1").proven
    [witness] = b3.witnesses
    decided = policy.decide(witness.case)
    assert "C2" in [c.id for c in decided.missing] and decided.review_type == "continuation"


def test_a_form_that_forgets_what_a_question_gives_is_refuted_and_stops_early(policy):
    flow = Workflow(policy.kb, policy.engine.case_model)
    wrong = dataclasses.replace(flow.ownership,
                                owners={d: (() if qs == ("hiv_positive",) else qs) for d, qs in flow.ownership.owners.items()},
                                dims={**flow.ownership.dims, "hiv_positive": ()})
    c = verdict(prove(policy, ownership=wrong, flow=flow), "c")
    assert not c.proven
    [witness] = c.witnesses
    first, second = policy.decide(witness.case), policy.decide(witness.other)
    assert first.decision != second.decision
    assert {k: v for k, v in witness.case.items() if k not in ("id", "hiv_positive")} == \
        {k: v for k, v in witness.other.items() if k not in ("id", "hiv_positive")}
    # the planted form indeed stops: with everything else answered, it never asks about HIV
    flow.ownership = wrong
    others = [q for q in wrong.questions if q != "hiv_positive"]
    with_hiv = witness.case if witness.case.get("hiv_positive") else witness.other
    without = {k: v for k, v in with_hiv.items() if k != "hiv_positive"}
    assert flow.next_question(without, others) is None
    assert policy.decide(without).decision != policy.decide(with_hiv).decision


@pytest.mark.slow
def test_check_kb_workflow_proves_the_shipped_kb_and_catches_stale_questionnaire_rules_with_witness_files(tmp_path, shipped_rules):
    cli = [sys.executable, "-m", "lemtrada_asp", "check-kb", "--workflow"]
    ok = subprocess.run(cli, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All proven." in ok.stdout
    questionnaire = tmp_path / "q.json"
    questionnaire.write_text(json.dumps({"resourceType": "Questionnaire", "item": [
        {"linkId": k, **v} for k, v in shipped_rules.items()]}))
    kb = edited_kb(tmp_path, "criteria/i3_ms_form.lp", replace=RRMS_NEEDS_ACTIVITY)
    out = tmp_path / "witnesses"
    bad = subprocess.run([*cli, "--kb", str(kb), "--questionnaire", str(questionnaire), "--witnesses", str(out)],
                         capture_output=True, text=True, cwd=REPO, timeout=600)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "(b1) no hidden question" in bad.stdout and "REFUTED" in bad.stdout
    files = sorted(out.glob("WORKFLOW-B1-*.yaml"))
    assert files
    edited = Policy.load(kb)
    decided = [edited.decide(yaml.safe_load(f.read_text())) for f in files[:2]]
    assert decided[0].to_json()["missing"] != decided[1].to_json()["missing"] or decided[0].decision != decided[1].decision


def test_check_kb_workflow_refuses_a_questionnaire_file_that_is_not_one(tmp_path):
    bad = tmp_path / "q.json"
    bad.write_text('{"resourceType": "Patient"}')
    run = subprocess.run([sys.executable, "-m", "lemtrada_asp", "check-kb", "--workflow", "--questionnaire", str(bad)],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 2 and "expected a Questionnaire" in run.stderr


@pytest.mark.slow
def test_a_kb_that_counts_more_concurrent_dmts_than_the_space_holds_leaves_c_unproven_saying_why(tmp_path):
    kb = edited_kb(tmp_path, "criteria/i6_monotherapy.lp",
                   append="two_concurrent(K) :- case(K), #count { D : concurrent_dmt(K, _, D) } >= 2.")
    c = verdict(prove(Policy.load(kb)), "c")
    assert not c.proven
    assert any("concurrent_dmt" in note and "space cannot follow" in note for note in c.notes)
