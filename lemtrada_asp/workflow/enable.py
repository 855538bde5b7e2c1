"""SDC ``enableWhen`` for the static Questionnaire, derived from the KB.

A question is *relevant* in a case when two cases differing only in its answer
get different PAS answers (decision, pend reason, failed or missing ids, what an
approval grants): pair.py finds every such case (copy ``a``) by brave reasoning,
once per question, the order's fields ranging freely. ``enableWhen`` can only
test other questions' answers, so each other question's answers in those cases
are projected out:

- a yes/no or coded question (``diagnosis.ms_course``): the codes, and whether
  no answer, occur; a strict subset becomes ``=`` (one code), ``!=`` (the codes
  that never occur) and ``exists``;
- any other question (a date, free text, a repeating group): only whether it is
  answered, as ``exists``.

Conditions refer only to questions before the item in the asking order
(adaptive.Workflow.order: the review's questions first, then the
Questionnaire's), so they never form a cycle: with a cycle (the specialty
hidden by a documented consultation and the consultation by a specialist's
specialty) the rule that a disabled item counts as unanswered gives two stable
forms, and renderers disagree. The item is enabled when all of them hold
(``enableBehavior`` ``all``). Each
projection holds every relevant case, so their conjunction does: a question is
never hidden where its answer could change PAS's answer (proofs.py, property (b),
checks this and the converse over every case). On the shipped KB this gives:
disease activity only for secondary progressive MS at an initial review; the
step therapy history only at an initial review (no prior course); the response
only at continuation; the consultation only when the specialty is not already a
neurologist or MS specialist; active infections only when HIV is not documented
(with HIV, E5 applies and I5 fails whatever the infections are).

Operators follow R4's QuestionnaireItemOperator: ``=`` is true when some answer
equals the value, ``!=`` when no answer does (so an unanswered question passes
``!=``), ``exists`` compares whether there is an answer. ``enabled`` evaluates
them on a case; the proofs and the measure use it, so all read one semantics.
"""

from __future__ import annotations

from typing import Any, Iterable


from ..case.pas.ids import CASE_CODES
from ..case.pas.schema import items_by_link_id
from .adaptive import Workflow, workflow
from .questions import get_path

__all__ = ["answers", "derive", "enable_when", "enabled"]

CODED = ("boolean", "choice")  # item types whose answers enableWhen can compare one by one


def enable_when(policy: Any) -> dict[str, dict]:
    """linkId -> the Questionnaire item keys to add (``enableWhen``, ``enableBehavior``), from the KB."""
    return derive(workflow(policy))


def derive(flow: Workflow) -> dict[str, dict]:
    pair = flow.pair
    items = items_by_link_id()
    found: dict[str, dict] = {}
    pdiff = pair.flag("wf_pdiff")
    with flow.lock:
        for question in flow.ownership.questions:
            mine = set(flow.ownership.dims[question])
            others = [d.name for d in pair.space.dims if d.name not in mine]
            region = pair.brave([pdiff, *pair.tied(others)]) if pdiff is not None else set()
            conditions = _conditions(question, region, flow, items)
            if conditions:
                found[question] = {"enableWhen": conditions, "enableBehavior": "all"}
    return found


def _conditions(question: str, region: set, flow: Workflow, items: dict) -> list[dict]:
    if not any(a.name == "wv" for a in region):  # never relevant: an item nobody can enable
        other = next(q for q in flow.order if q != question)
        return [{"question": other, "operator": "exists", "answerBoolean": True},
                {"question": other, "operator": "exists", "answerBoolean": False}]
    values: dict[str, set[str]] = {}
    answered: dict[str, set[bool]] = {}
    for atom in region:
        if atom.arguments[0].name != "a":
            continue
        if atom.name == "wv":
            values.setdefault(atom.arguments[1].string, set()).add(atom.arguments[2].string)
        elif atom.name in ("wf_ans", "wf_unans"):
            answered.setdefault(atom.arguments[1].string, set()).add(atom.name == "wf_ans")
    out: list[dict] = []
    earlier = flow.order[: flow.order.index(question)]
    for other in flow.ownership.questions:
        if other not in earlier:  # only questions asked before it: no cycle of conditions
            continue
        dims = flow.ownership.dims[other]
        item = items.get(other)
        if item is not None and item.type in CODED and not item.repeats and len(dims) == 1:
            dim = flow.space.dim(dims[0])
            seen = values.get(dim.name, set())
            keys = [v.key for v in dim.values]
            if set(keys) <= seen:
                continue
            out += _coded(other, item, seen, [k for k in keys if k != "absent"])
        else:
            kinds = answered.get(other, set())
            if len(kinds) == 1:
                out.append({"question": other, "operator": "exists", "answerBoolean": next(iter(kinds))})
    return out


def _answer(item: Any, code: str) -> dict:
    if item.type == "boolean":
        return {"answerBoolean": code == "true"}
    return {"answerCoding": {"system": CASE_CODES, "code": code}}


def _coded(question: str, item: Any, seen: set[str], codes: list[str]) -> list[dict]:
    kept = [c for c in codes if c in seen]
    never = [c for c in codes if c not in seen]
    if "absent" not in seen:
        if len(kept) == 1:
            return [{"question": question, "operator": "=", **_answer(item, kept[0])}]
        return [{"question": question, "operator": "exists", "answerBoolean": True}] + [
            {"question": question, "operator": "!=", **_answer(item, c)} for c in never]
    if not kept:
        return [{"question": question, "operator": "exists", "answerBoolean": False}]
    return [{"question": question, "operator": "!=", **_answer(item, c)} for c in never]


# --- evaluating enableWhen on a case -----------------------------------------------


def answers(case: dict, link_id: str) -> list[Any]:
    """A question's answers in a case, as a QuestionnaireResponse would carry them (codes as strings)."""
    value = get_path(case, link_id)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _matches(condition: dict, answer: Any) -> bool:
    if "answerBoolean" in condition:
        return answer is condition["answerBoolean"]
    if "answerCoding" in condition:
        return answer == condition["answerCoding"]["code"]
    raise ValueError(f"an enableWhen answer this module does not write: {condition}")


def holds(condition: dict, case: dict) -> bool:
    given = answers(case, condition["question"])
    operator = condition["operator"]
    if operator == "exists":
        return bool(given) is condition["answerBoolean"]
    if operator == "=":
        return any(_matches(condition, a) for a in given)
    if operator == "!=":
        return not any(_matches(condition, a) for a in given)
    raise ValueError(f"an enableWhen operator this module does not write: {operator}")


def enabled(rules: dict[str, dict], case: dict, questions: Iterable[str]) -> list[str]:
    """The questions the static form shows for a case's answers."""
    shown = []
    for question in questions:
        rule = rules.get(question)
        if rule is None:
            shown.append(question)
            continue
        results = [holds(c, case) for c in rule["enableWhen"]]
        if all(results) if rule.get("enableBehavior", "all") == "all" else any(results):
            shown.append(question)
    return shown
