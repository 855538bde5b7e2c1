"""The generated DTR Questionnaire: exactly the contract's items, codes from the model, criteria from the KB."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from pydantic import StrictBool

from lemtrada_asp.case import model as case_model
from lemtrada_asp.case.pas import ids
from lemtrada_asp.service import questionnaire as q
from lemtrada_asp.case.pas.schema import answer_items

KB = Path(__file__).resolve().parent.parent / "kb"

# The contract's table (fhir-pas.md, "QuestionnaireResponse"): linkId, type, repeats.
TABLE = [
    ("chart_date", "date", False), ("prescriber.specialty", "choice", False),
    ("prescriber.consultation_with_specialist", "boolean", False), ("diagnosis.condition", "open-choice", False),
    ("diagnosis.ms_course", "choice", False), ("diagnosis.active", "boolean", False), ("dmt_history", "group", True),
    ("concurrent_dmts", "choice", True), ("hiv_positive", "boolean", False), ("active_infections", "string", True),
    ("lemtrada_courses", "group", True), ("response.objective", "choice", True), ("response.symptoms", "choice", True),
]
CHILDREN = {"dmt_history": [("dmt_history.drug", "choice"), ("dmt_history.outcome", "choice")],
            "lemtrada_courses": [("lemtrada_courses.start_date", "date"), ("lemtrada_courses.days", "integer")]}
CODES = {
    "prescriber.specialty": ["neurology", "ms_specialist", "other"],
    # one code per concept of the KB's condition vocabulary (kb/vocabulary.lp, condition_term/2): synonyms
    # (ms, disseminated_sclerosis, cis) are no separate options; other conditions are answered as text
    "diagnosis.condition": ["multiple_sclerosis", "clinically_isolated_syndrome"],
    "diagnosis.ms_course": ["relapsing_remitting", "secondary_progressive", "primary_progressive", "unspecified"],
    "dmt_history.outcome": ["failed", "intolerant", "contraindicated", "effective"],
    "response.objective": ["mri_activity_reduced", "disability_improved_or_stable", "relapse_rate_reduced", "fatigue_or_walking_improved"],
    "response.symptoms": ["motor_function", "fatigue", "vision", "bowel_bladder", "spasticity", "walking_gait", "pain_numbness_tingling"],
}


@pytest.fixture(scope="module")
def questionnaire() -> dict:
    return q.questionnaire()


def flat(items):
    for item in items:
        yield item
        yield from flat(item.get("item", []))


def test_identity_and_validity(questionnaire):
    Questionnaire.model_validate(questionnaire)
    assert (questionnaire["id"], questionnaire["url"], questionnaire["version"], questionnaire["status"]) == (
        "lemtrada-pa", ids.QUESTIONNAIRE_URL, "1", "active")
    assert questionnaire["subjectType"] == ["Patient"]


def test_items_are_exactly_the_contract_table_in_its_order(questionnaire):
    assert [(i["linkId"], i["type"], i["repeats"]) for i in questionnaire["item"]] == TABLE
    for item in questionnaire["item"]:
        children = [(c["linkId"], c["type"]) for c in item.get("item", [])]
        assert children == CHILDREN.get(item["linkId"], [])
        assert all(c["required"] is True for c in item.get("item", []))
        assert "required" not in item


def test_every_item_asks_a_question_in_words(questionnaire):
    for item in flat(questionnaire["item"]):
        assert item["text"] and "_" not in item["text"], item["linkId"]


def test_answer_codes_are_the_case_formats(questionnaire):
    options = {i["linkId"]: i.get("answerOption") for i in flat(questionnaire["item"])}
    for link_id, codes in CODES.items():
        assert [o["valueCoding"]["code"] for o in options[link_id]] == codes, link_id
    for link_id in ("dmt_history.drug", "concurrent_dmts"):
        assert [o["valueCoding"]["code"] for o in options[link_id]] == list(case_model.DMT_ALIASES)
        assert len(options[link_id]) == 16
    every = [o["valueCoding"] for opts in options.values() if opts for o in opts]
    assert {c["system"] for c in every} == {ids.CASE_CODES} and all(c["display"] for c in every)
    assert [o["valueCoding"]["display"] for o in options["concurrent_dmts"]][0] == "Natalizumab (Tysabri, Tyruko)"  # case-format.md: Tyruko is an alias


def test_items_name_the_criteria_they_settle(questionnaire):
    settles = {i["linkId"]: [s["valueCode"] for s in i["extension"][0]["extension"]]
               for i in questionnaire["item"] if i.get("extension")}
    assert settles["chart_date"] == ["I0", "C0"]
    assert settles["dmt_history"] == ["I4.a", "I4.b.i", "I4.b.ii", "I4.b.iii"]
    assert settles["diagnosis.condition"] == ["I3.a", "I3.b", "E2", "E3"]
    assert settles["hiv_positive"] == ["I5.a", "E5"] and settles["lemtrada_courses"] == ["C3"]
    assert set(settles) == {link_id for link_id, *_ in TABLE}


def test_a_new_leaf_rule_in_the_kb_is_named_by_the_item_it_reads(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB, kb)
    with (kb / "exclusions.lp").open("a") as f:
        f.write('\nfinding(K, "E9", applies, hiv_positive(K, true)) :- hiv_positive(K, true), param(pediatric_age_below, _).\n')
    assert "E9" in q.settled_criteria(kb / "lemtrada.lp")["hiv_positive"]
    assert "E9" not in q.settled_criteria()["hiv_positive"]


def test_a_field_the_case_model_gains_gets_an_item_without_an_edit(monkeypatch):
    class Wider(case_model.Case):
        pregnant: Optional[StrictBool] = None

    monkeypatch.setattr(case_model, "Case", Wider)
    items = answer_items()
    assert [(i.link_id, i.type, i.repeats) for i in items][-1] == ("pregnant", "boolean", False)
    assert q.question("pregnant") == "Pregnant?"


def test_missing_selects_the_questions_that_settle_undocumented_criteria():
    pend = {"missing": [
        {"id": "I0", "reasons": []},
        {"id": "I4", "reasons": [{"id": "I4.a", "status": "undocumented"}, {"id": "I4.b.i", "status": "not_met"}]},
    ]}
    assert q.missing_link_ids(pend) == ["chart_date", "dmt_history"]
    assert q.missing_link_ids({"missing": []}) == []
    only = q.questionnaire(only=q.missing_link_ids(pend))
    Questionnaire.model_validate(only)
    assert [i["linkId"] for i in only["item"]] == ["chart_date", "dmt_history"]


def test_the_command_prints_the_questionnaire_and_missing_keeps_the_questions_of_a_case():
    import json
    import subprocess
    import sys

    def run(*args):
        r = subprocess.run([sys.executable, "-m", "lemtrada_asp", "questionnaire", *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    fixtures = Path(__file__).parent / "fixtures" / "pas"
    assert run() == q.questionnaire()
    # pend-information has no QuestionnaireResponse: chart, diagnosis and step therapy are undocumented.
    only = run("--missing", str(fixtures / "pend-information.bundle.json"))
    assert [i["linkId"] for i in only["item"]] == [
        "chart_date", "diagnosis.condition", "diagnosis.ms_course", "diagnosis.active", "dmt_history"]
    assert "item" not in run("--missing", str(fixtures / "approve-initial.case.json"))
