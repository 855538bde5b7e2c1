"""The case schema is declared once (lemtrada_asp/case/schema.py); everything that
restates a part of it is checked against it here, so a new field that misses one
of them fails with the name of what was missed."""

from __future__ import annotations

import re
import typing
from typing import Any

from clingo import ast
from pydantic import BaseModel

from conftest import CONTINUATION, INITIAL, KB_DIR, vary
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.analysis.space import INPUT_PREDICATES
from lemtrada_asp.case import evidence as evidence_module
from lemtrada_asp.case.facts import case_symbols
from lemtrada_asp.case.model import Case, validate_case
from lemtrada_asp.case.schema import EVIDENCE_TERMS, FIELDS, PREDICATES
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.render.letters import wording


def model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every field path of the pydantic model, lists of entries as ``[]``."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.add(path)
        for inner in _inner_types(info.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                entry = path + ("[]" if _is_list(info.annotation) else "")
                paths |= model_paths(inner, entry + ".")
            elif _is_list(info.annotation) and inner is not type(None):
                paths.add(path + "[]")
    return paths


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(a) is list for a in _flatten(annotation))


def _inner_types(annotation: Any) -> list[Any]:
    found = []
    for a in _flatten(annotation):
        if typing.get_origin(a) is list:
            found += _flatten(typing.get_args(a)[0])
        else:
            found.append(a)
    return found


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [x for a in typing.get_args(annotation) for x in _flatten(a)]
    return [annotation]


def test_the_pydantic_model_has_exactly_the_declared_fields():
    paths = {p for p in model_paths(Case)}
    # Literal-valued lists ("objective: list[Literal[...]]") count as entries too.
    assert paths == set(FIELDS), {"model only": paths - set(FIELDS), "declaration only": set(FIELDS) - paths}


def test_the_kb_declares_exactly_the_declared_input_predicates():
    text = (KB_DIR / "inputs.lp").read_text()
    defined = set(re.findall(r"^#defined (\w+)/\d+\.", text, re.M)) - {"case", "state_mandate"}
    assert defined == set(PREDICATES)


def full_cases() -> list[Any]:
    """Cases that together give every field."""
    full = vary(INITIAL, {"request.start_date": "2026-05-02", "request.consecutive": False, "prescriber.consultation_with_specialist": True,
                          "concurrent_dmts": ["ocrelizumab"], "active_infections": ["shingles"]})
    running = vary(CONTINUATION, {"lemtrada_courses": [{"start_date": "2026-04-29", "days": 5}]})  # still running
    return [validate_case(full, "full"), validate_case(CONTINUATION, "continuation"), validate_case(running, "running")]


def test_facts_give_exactly_the_declared_predicates():
    made = {s.name for case in full_cases() for s in case_symbols(0, case)} - {"case"}
    assert made == set(PREDICATES)


def test_the_abstract_space_reads_exactly_the_declared_predicates():
    assert INPUT_PREDICATES == {"case", *PREDICATES}


def evidence_kinds(statuses: tuple[str, ...] = ("met", "not_met", "undocumented", "applies")) -> set[str]:
    """The names of the evidence terms the KB's leaf rules give (finding/4, fourth argument)
    behind the given statuses (a rule whose status is a variable counts for every status)."""
    kinds: set[str] = set()

    def visit(statement):
        if statement.ast_type != ast.ASTType.Rule:
            return
        head = statement.head
        if head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom:
            term = head.atom.symbol
            if term.ast_type == ast.ASTType.Function and term.name == "finding" and len(term.arguments) == 4:
                status = term.arguments[2]
                if status.ast_type == ast.ASTType.SymbolicTerm and status.symbol.name not in statuses:
                    return
                evidence = term.arguments[3]
                for part in (evidence.arguments if evidence.ast_type == ast.ASTType.Pool else [evidence]):
                    if part.ast_type == ast.ASTType.Function and part.name:
                        kinds.add(part.name)

    ast.parse_files([str(p) for p in KnowledgeBase(KB_DIR).program_files()], visit)
    return kinds


def test_every_evidence_term_the_kb_gives_is_declared_and_worded_for_reviewers_and_members():
    kinds = evidence_kinds()
    assert kinds and kinds <= set(PREDICATES) | set(EVIDENCE_TERMS), kinds - set(PREDICATES) - set(EVIDENCE_TERMS)
    assert kinds <= set(evidence_module._RENDERERS), kinds - set(evidence_module._RENDERERS)
    against = evidence_kinds(("not_met", "undocumented", "applies"))  # what a letter gives as a reason
    assert against <= set(wording()["evidence"]), against - set(wording()["evidence"])


def test_the_generator_fills_every_declared_field():
    seen: set[str] = set()

    def walk(value: Any, path: str) -> None:
        if path:
            seen.add(path)
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, path + "[]")

    for case in generate_cases(3000, 1):
        walk(case, "")
    assert set(FIELDS) - seen == set()
