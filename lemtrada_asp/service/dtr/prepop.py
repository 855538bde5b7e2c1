"""Pre-population of the Questionnaire, generated from the chart mapping (case/fhir/chart.py).

CRD reads a chart with ``read_chart``; DTR turns the very same entries into SDC
pre-population (SDC 3.0 "Expression-based population"), so both read the chart the
same way:

- each chart context becomes a launch context or a variable on the Questionnaire:
  ``patient`` and ``coverage`` and the order are ``launchContext``s (the clinician's
  role is SDC's ``user``); a chart list (``conditions``, ``medications``) is an
  ``x-fhir-query`` variable built from the chart's own prefetch template, whose
  searchset's resources a FHIRPath variable of the chart's name lists;
- each chart entry whose field is an item of the form becomes that item's
  ``initialExpression`` (FHIRPath): the entry's expression as written, and for a
  choice item the answer option whose code it yields, so the answer is a Coding of
  the case-v1 system exactly as the contract wants.

No CQL: DTR allows FHIRPath, and no CQL engine can run here (service/DTR.md).
``populate`` is an SDC population engine over these expressions (fhirpathpy), used
by the tests to show the pre-filled answers equal ``read_chart``'s case.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ...case.fhir import chart
from ...case.pas import ids

__all__ = ["INITIAL_EXPRESSION", "LAUNCH_CONTEXT", "VARIABLE", "initial_expressions", "launch_extensions", "populate"]

SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
LAUNCH_CONTEXT = SDC + "sdc-questionnaire-launchContext"
INITIAL_EXPRESSION = SDC + "sdc-questionnaire-initialExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
SDC_LAUNCH = "http://hl7.org/fhir/uv/sdc/CodeSystem/launchContext"
# SDC's launch-context codes (patient, user, ...) have none for the coverage or the order;
# the binding is extensible, so those two are named in a code system of this server.
OWN_LAUNCH = "http://lemtrada-asp.example/fhir/CodeSystem/launch-context"
FHIRPATH = "text/fhirpath"
FHIR_QUERY = "application/x-fhir-query"

# Chart context -> (launch context name, its code system): the one resource a DTR launch hands over.
LAUNCHED = {
    "patient": ("patient", SDC_LAUNCH),
    "coverage": ("coverage", OWN_LAUNCH),
    "practitionerRole": ("user", SDC_LAUNCH),
    "medicationRequest": ("order", OWN_LAUNCH),
}
# CDS Hooks prefetch tokens -> SDC x-fhir-query embedded FHIRPath over the launch contexts.
TOKENS = {"{{context.patientId}}": "{{%patient.id}}", "{{context.userId}}": "{{%user.id}}"}


def _query(template: str) -> str:
    for token, expression in TOKENS.items():
        template = template.replace(token, expression)
    return template


def _expression(name: str, language: str, expression: str, description: str | None = None) -> dict:
    value = {"name": name, "language": language, "expression": expression}
    if description:
        value["description"] = description
    return value


def launch_extensions(used: set[str] | None = None) -> list[dict]:
    """The Questionnaire's launchContext and variable extensions for the chart contexts (all, or ``used``)."""
    launch, variables = [], []
    for name, context in chart.CONTEXTS.items():
        if used is not None and name not in used and name not in LAUNCHED:
            continue
        if name in LAUNCHED:
            code, system = LAUNCHED[name]
            launch.append({"url": LAUNCH_CONTEXT, "extension": [
                {"url": "name", "valueCoding": {"system": system, "code": code}},
                {"url": "type", "valueCode": context.type},
                {"url": "description", "valueString": context.description}]})
            if code != name:
                variables.append(_expression(name, FHIRPATH, f"%{code}", context.description))
            continue
        # One x-fhir-query per prefetch template of the list (the chart reads MedicationRequests and
        # MedicationStatements as one list, ``medications``; a query gives one resource type).
        bundles = []
        for key, template in context.templates:
            bundles.append(f"{key}Bundle")
            variables.append(_expression(f"{key}Bundle", FHIR_QUERY, _query(template)))
        listed = ".combine(".join(f"%{b}.entry.resource" for b in bundles) + ")" * (len(bundles) - 1)
        variables.append(_expression(name, FHIRPATH, listed, context.description))
    return launch + [{"url": VARIABLE, "valueExpression": v} for v in variables]


def initial_expressions(items: dict[str, dict]) -> dict[str, str]:
    """linkId -> the FHIRPath of its initialExpression, for every chart entry that is an item of the form.

    ``items``: the form's top-level items by linkId (their ``type``). For a choice the
    expression picks the answer option whose code the chart entry yields.
    """
    out = {}
    for entry in chart.entries():
        item = items.get(entry.field)
        if item is None or not entry.prepopulates:
            continue
        expression = entry.expression
        if entry.value != "list":  # as read_chart: two different values state none
            expression = f"iif(({expression}).distinct().count() = 1, ({expression}).distinct(), {{}})"
        if item["type"] in ("choice", "open-choice"):
            expression = (f"%questionnaire.repeat(item).where(linkId = '{entry.field}')"
                          f".answerOption.valueCoding.where(code in ({expression}))")
        out[entry.field] = expression
    return out


def _compiled(expression: str):
    from fhirpathpy import compile as fhirpath
    from fhirpathpy.models import models

    return fhirpath(expression, models["r4"])


def _evaluate(expression: str, env: dict[str, Any]) -> list:
    return list(_compiled(expression)({}, dict(env)))


def populate(questionnaire: dict, launch: dict[str, dict], search: Callable[[str], dict]) -> dict[str, list]:
    """linkId -> the initial answers (values, Codings for a choice) the form's own expressions give.

    ``launch``: launch-context name -> resource (SDC's launch: ``patient``, ``user``,
    ``coverage``, ``order``); ``search(query)``: the searchset Bundle of an x-fhir-query
    (a FHIR server's answer). Variables are evaluated in order, then each item's
    initialExpression, with ``%questionnaire`` the form itself, as SDC $populate does.
    """
    env: dict[str, Any] = {"questionnaire": questionnaire}
    names = {}
    for ext in questionnaire.get("extension", []):
        if ext["url"] == LAUNCH_CONTEXT:
            name = next(e["valueCoding"]["code"] for e in ext["extension"] if e["url"] == "name")
            names[name] = launch.get(name)
    env.update(names)
    for ext in questionnaire.get("extension", []):
        if ext["url"] != VARIABLE:
            continue
        value = ext["valueExpression"]
        if value["language"] == FHIR_QUERY:
            query = re.sub(r"\{\{(.+?)\}\}", lambda m: "".join(str(v) for v in _evaluate(m.group(1), env)),
                           value["expression"])
            env[value["name"]] = search(query)
        else:
            found = _evaluate(value["expression"], env)
            env[value["name"]] = found[0] if len(found) == 1 else found
    answers = {}
    for item in _walk(questionnaire.get("item", [])):
        for ext in item.get("extension", []):
            if ext["url"] == INITIAL_EXPRESSION:
                found = _evaluate(ext["valueExpression"]["expression"], env)
                if found:
                    answers[item["linkId"]] = [v if isinstance(v, (dict, str, bool, int, float)) else str(v) for v in found]
    return answers


def _walk(items: list[dict]):
    for item in items:
        yield item
        yield from _walk(item.get("item", []))


def answers_as_case(questionnaire: dict, answers: dict[str, list]) -> dict:
    """The pre-filled answers as case fields (a Coding's code; one value for a field that does not repeat)."""
    repeats = {i["linkId"]: i.get("repeats", False) for i in _walk(questionnaire.get("item", []))}
    case: dict = {}
    for link_id, values in answers.items():
        plain = [v["code"] if isinstance(v, dict) and v.get("system") == ids.CASE_CODES else v for v in values]
        value = list(dict.fromkeys(plain)) if repeats.get(link_id) else plain[0]
        *parents, name = link_id.split(".")
        target = case
        for parent in parents:
            target = target.setdefault(parent, {})
        target[name] = value
    return case
