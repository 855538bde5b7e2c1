"""The Questionnaire as DTR 2.0.1 wants it: narrative, DTR profile, one option per concept, enableWhen from the KB."""

from __future__ import annotations

import shutil
from pathlib import Path

from lemtrada_asp.case.pas import ids
from lemtrada_asp.engine.policy import Policy
from lemtrada_asp.service import questionnaire as q
from lemtrada_asp.workflow.enable import enable_when

KB = Path(__file__).resolve().parent.parent / "kb"


def items(form: dict) -> dict[str, dict]:
    return {i["linkId"]: i for i in form["item"]}


def test_the_questionnaire_claims_the_dtr_profile_and_narrates_every_question():
    form = q.questionnaire()
    assert form["meta"]["profile"] == [ids.DTR_QUESTIONNAIRE] and form["subjectType"] == ["Patient"]
    div = form["text"]["div"]
    assert form["text"]["status"] == "generated" and div.startswith('<div xmlns="http://www.w3.org/1999/xhtml">')

    def walk(nodes):
        for node in nodes:
            yield node
            yield from walk(node.get("item", []))
    for item in walk(form["item"]):
        assert item["text"].replace("'", "&#x27;") in div, item["linkId"]


def test_synonyms_in_the_kb_are_no_separate_options_and_a_new_concept_is(tmp_path):
    codes = [o["valueCoding"]["code"] for o in items(q.questionnaire())["diagnosis.condition"]["answerOption"]]
    assert codes == ["multiple_sclerosis", "clinically_isolated_syndrome"]
    kb = tmp_path / "kb"
    shutil.copytree(KB, kb)
    with (kb / "vocabulary.lp").open("a") as f:
        f.write('\ncondition_term("relapsing_ms", ms).\ncondition_term("radiologically_isolated_syndrome", ris).\n')
    assert q.concept_terms(kb / "lemtrada.lp") == ("multiple_sclerosis", "clinically_isolated_syndrome",
                                                   "radiologically_isolated_syndrome")


def test_enable_when_is_the_workflows_derivation_from_the_kb():
    form = items(q.questionnaire())
    derived = enable_when(Policy.load())
    assert derived  # the KB makes some questions conditional
    for link_id, keys in derived.items():
        assert form[link_id]["enableWhen"] == keys["enableWhen"], link_id
        assert form[link_id]["enableBehavior"] == keys["enableBehavior"]
    assert {k for k, v in form.items() if "enableWhen" in v} == set(derived)
    # disease activity is asked only where it decides, the response only at continuation
    assert "diagnosis.active" in derived and {"response.objective", "response.symptoms"} <= set(derived)
    assert all(c["question"] == "lemtrada_courses" for c in form["response.symptoms"]["enableWhen"])


def test_a_form_of_fewer_items_keeps_only_conditions_on_items_it_has():
    only = q.questionnaire(only=["hiv_positive", "active_infections", "response.objective"])
    kept = items(only)
    assert kept["active_infections"]["enableWhen"][0]["question"] == "hiv_positive"
    assert "enableWhen" not in kept["response.objective"]  # its question (lemtrada_courses) is not in this form


def test_the_questionnaire_names_its_launch_contexts_and_the_items_their_initial_expressions():
    from lemtrada_asp.service.dtr import prepop

    form = q.questionnaire()
    urls = [e["url"] for e in form["extension"]]
    assert urls.count(prepop.LAUNCH_CONTEXT) == 4 and prepop.VARIABLE in urls
    initial = {i["linkId"]: e["valueExpression"] for i in form["item"] for e in i.get("extension", [])
               if e["url"] == prepop.INITIAL_EXPRESSION}
    assert all(v["language"] == "text/fhirpath" for v in initial.values())
    assert "chart_date" not in initial and "dmt_history" not in initial  # what the chart cannot state is asked
