"""The DTR Questionnaire ``lemtrada-pa``, generated from the case model and the KB.

Its items are exactly the case fields a QuestionnaireResponse carries
(schema.py, from the pydantic models), with the model's enum values (and the
KB's condition vocabulary) as answer codes, and each item names in an extension
the criteria its answer settles (settles.py, from the KB's rules). A field or
code added to the model or KB appears here without an edit; only the wording
of a question is written by hand, and a field without wording still gets a
plain question made from its name.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from ..case import model as case_model
from ..case.pas import ids
from ..case.pas.schema import Item, answer_items

QUESTIONS = {
    "chart_date": "Date of the most recent chart documentation submitted",
    "prescriber.specialty": "Specialty of the prescriber",
    "prescriber.consultation_with_specialist": "Was Lemtrada prescribed in consultation with a neurologist or MS specialist?",
    "diagnosis.condition": "Condition Lemtrada is requested for",
    "diagnosis.ms_course": "Course of multiple sclerosis",
    "diagnosis.active": "Is disease activity documented?",
    "dmt_history": "Prior disease-modifying therapy (one entry per drug tried)",
    "dmt_history.drug": "Drug",
    "dmt_history.outcome": "Outcome of the trial",
    "concurrent_dmts": "Disease-modifying therapies used or planned alongside Lemtrada (none: leave unanswered)",
    "hiv_positive": "Is there documented HIV infection?",
    "active_infections": "Documented active infections (none: leave unanswered)",
    "lemtrada_courses": "Prior Lemtrada courses (one entry per course)",
    "lemtrada_courses.start_date": "First infusion day of the course",
    "lemtrada_courses.days": "Number of consecutive infusion days",
    "response.objective": "Objective measures that improved after the last course",
    "response.symptoms": "MS symptoms that stabilised or improved after the last course",
}


def question(link_id: str) -> str:
    """The item's question in words; a field nobody wrote one for gets one from its path."""
    if link_id in QUESTIONS:
        return QUESTIONS[link_id]
    return link_id.replace(".", ": ").replace("_", " ").capitalize() + "?"


def display(item: Item, code: str) -> str:
    if item.drug:
        aliases = [a.capitalize() for a in case_model.DMT_ALIASES.get(code, ())]
        name = code.replace("_", " ").capitalize()
        return f"{name} ({', '.join(aliases)})" if aliases else name
    return code.replace("_", " ").capitalize()


def default_root() -> Path:
    """The root file of the shipped KB, as its manifest names it."""
    from ..engine.knowledge import KnowledgeBase

    return KnowledgeBase().root


def field_predicates() -> dict[str, frozenset[str]]:
    """linkId -> the input predicates its answer becomes, from the case schema's one declaration.

    An item's field, its list entries' fields (``dmt_history[].drug``) and the
    object an answer brings into being (``response`` for ``response.objective``)
    all count: answering the item can change each of those facts.
    """
    from ..case.schema import FIELDS

    found = {}
    for item in answer_items():
        parts = item.link_id.split(".")
        owners = {".".join(parts[:n]) for n in range(1, len(parts))}
        found[item.link_id] = frozenset(
            fact for path, spec in FIELDS.items()
            if path == item.link_id or path.startswith(item.link_id + "[") or path in owners
            for fact in spec.facts)
    return found


def settled_criteria(root: Path | None = None) -> dict[str, tuple[str, ...]]:
    """linkId -> the criteria (leaves and exclusions) its answer settles, in catalogue order.

    The one place the derivation lives: field -> input predicates (facts.py) ->
    the leaf rules of the KB that read them.
    """
    from .settles import catalogue_order, leaf_inputs

    root = root or default_root()
    fields = field_predicates()
    inputs = frozenset().union(*fields.values())
    leaves = leaf_inputs(root, inputs)
    order = {c: i for i, c in enumerate(catalogue_order(root))}
    return {
        link_id: tuple(sorted((c for c, used in leaves.items() if used & preds), key=lambda c: order.get(c, len(order))))
        for link_id, preds in fields.items()
    }


def concept_terms(root: Path) -> tuple[str, ...]:
    """One answer code per condition concept of the KB's vocabulary: the first term it lists.

    ``condition_term(Term, Concept)`` lists synonyms (``ms``, ``disseminated_sclerosis``)
    beside the name of a concept; a synonym is no separate option (the issue), and the
    contract's codes are the concepts' names (``multiple_sclerosis``,
    ``clinically_isolated_syndrome``). The concept ``other`` is no concept but the KB's
    list of other conditions (E3): those are answered as text, which the KB recognises.
    """
    from .settles import vocabulary

    concepts: dict[str, str] = {}
    for term, concept in condition_concepts(root):
        if concept != "other":
            concepts.setdefault(concept, term)
    return tuple(concepts.values()) or vocabulary(root)


def condition_concepts(root: Path) -> tuple[tuple[str, str], ...]:
    """(term, concept) of every ``condition_term/2`` fact of the KB, in file order."""
    from clingo import ast

    from .settles import _args, _atoms, _name, _strings

    found: list[tuple[str, str]] = []

    def visit(stm) -> None:
        if stm.ast_type == ast.ASTType.Rule and not stm.body:
            for atom in _atoms(stm.head):
                args = _args(atom)
                if _name(atom) == "condition_term" and len(args) == 2:
                    term, concept = _strings(args[0]) or [], _name(args[1])
                    found.extend((t, concept) for t in term if concept)

    ast.parse_files([str(root)], visit)
    return tuple(found)


def _options(item: Item, root: Path) -> list[dict]:
    codes = item.codes or (concept_terms(root) if item.type == "open-choice" else ())
    return [{"valueCoding": {"system": ids.CASE_CODES, "code": c, "display": display(item, c)}} for c in codes]


def _item(item: Item, settles: dict[str, tuple[str, ...]], root: Path, in_group: bool = False,
          initial: dict[str, str] | None = None, enable: dict[str, dict] | None = None) -> dict:
    out: dict[str, Any] = {}
    criteria = settles.get(item.link_id, ())
    extensions = []
    if criteria:
        extensions.append({"url": ids.SETTLES_EXT, "extension": [{"url": "criterion", "valueCode": c} for c in criteria]})
    if (initial or {}).get(item.link_id):
        from .dtr.prepop import FHIRPATH, INITIAL_EXPRESSION

        extensions.append({"url": INITIAL_EXPRESSION,
                           "valueExpression": {"language": FHIRPATH, "expression": initial[item.link_id]}})
    if extensions:
        out["extension"] = extensions
    out.update({"linkId": item.link_id, "text": question(item.link_id), "type": item.type})
    if in_group:
        out["required"] = True
    out["repeats"] = item.repeats
    if enable and item.link_id in enable:
        out.update(enable[item.link_id])
    if item.type in ("choice", "open-choice"):
        out["answerOption"] = _options(item, root)
    if item.children:
        out["item"] = [_item(c, settles, root, in_group=True) for c in item.children]
    return out


@lru_cache(maxsize=8)
def _enable_when(root: Path) -> dict[str, dict]:
    from ..engine.policy import Policy
    from ..workflow.enable import enable_when

    return enable_when(Policy.load(root.parent))


def enabled_when(root: Path, link_ids: frozenset[str]) -> dict[str, dict]:
    """linkId -> its ``enableWhen``/``enableBehavior``, derived from the KB (workflow/enable.py).

    Ask for disease activity only where it decides, for the response only at continuation:
    the solver found where each answer can change the decision. A form of fewer items
    (``--missing``) keeps the conditions on the items it has; an item whose conditions all
    name absent items is always asked (a question too many, never one too few).
    """
    out = {}
    for link_id, keys in _enable_when(Path(root)).items():
        if link_id not in link_ids:
            continue
        conditions = [c for c in keys["enableWhen"] if c["question"] in link_ids]
        if len(conditions) == len(keys["enableWhen"]) or (conditions and keys.get("enableBehavior") == "all"):
            out[link_id] = {**keys, "enableWhen": conditions}
    return out


def narrative(title: str, items: list[dict]) -> dict:
    """The human-readable text DTR 2.0.1 requires: the title and every question, nested as the items are.

    Generated from the same items, so it can never list a question the form does not ask.
    """
    from html import escape

    def listed(nodes: list[dict]) -> str:
        rows = []
        for node in nodes:
            kind = node["type"] + (", repeats" if node.get("repeats") else "")
            rows.append(f"<li>{escape(node['text'])} <i>({escape(kind)})</i>"
                        + (listed(node["item"]) if node.get("item") else "") + "</li>")
        return "<ol>" + "".join(rows) + "</ol>" if rows else ""

    div = f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>{escape(title)}</b></p>{listed(items)}</div>'
    return {"status": "generated", "div": div}


def questionnaire(root: Path | None = None, only: Iterable[str] | None = None, enable: bool = True) -> dict:
    """The Questionnaire resource (fhir-pas.md, "The Questionnaire"); ``only`` keeps those linkIds.

    ``enable=False`` leaves out the enableWhen derived from the KB: every question is shown, which
    asks more than needed but never hides one that matters (the server's fallback for a KB whose
    analysis runs past its time limit)."""
    from .fhir_out import checked

    root = root or default_root()
    settles = settled_criteria(root)
    keep = set(only) if only is not None else None
    from .dtr.prepop import initial_expressions, launch_extensions

    chosen = [item for item in answer_items() if keep is None or item.link_id in keep]
    initial = initial_expressions({item.link_id: {"type": item.type} for item in chosen})
    enable = enabled_when(root, frozenset(item.link_id for item in chosen)) if enable else {}
    items = [_item(item, settles, root, initial=initial, enable=enable) for item in chosen]
    title = "Lemtrada (alemtuzumab) prior authorization: clinical documentation"
    resource = {
        "resourceType": "Questionnaire",
        "id": ids.QUESTIONNAIRE_ID,
        "meta": {"profile": [ids.DTR_QUESTIONNAIRE]},
        "text": narrative(title, items),
        # SDC pre-population: the launch contexts and variables the items' initialExpressions read
        # (dtr/prepop.py, generated from the chart mapping CRD reads the chart with)
        "extension": launch_extensions(),
        "url": ids.QUESTIONNAIRE_URL,
        "version": ids.QUESTIONNAIRE_VERSION,
        "name": "LemtradaPriorAuthorization",
        "title": title,
        "status": "active",
        "subjectType": ["Patient"],
    }
    if items:  # FHIR JSON has no empty arrays: a case with nothing undocumented gets no items
        resource["item"] = items
    return checked(resource)


def missing_link_ids(decision: dict, root: Path | None = None) -> list[str]:
    """The items whose answers would settle a decision's undocumented criteria (``--missing``)."""
    wanted = set()
    for m in decision.get("missing", []):
        wanted.add(m["id"])
        wanted |= {r["id"] for r in m.get("reasons", []) if r.get("status") == "undocumented"}
    return [link_id for link_id, criteria in settled_criteria(root).items() if wanted & set(criteria)]
