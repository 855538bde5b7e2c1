"""The Questionnaire's questions against the abstract input space: who owns which input.

Each dimension of the space (analysis/space.py) is made of input predicates;
each question (a top-level Questionnaire item, its linkId a case field path)
gives some input predicates (service/questionnaire.field_predicates, from the
case schema's one declaration). A dimension is *owned* by the questions whose
predicates it uses; a dimension no question owns comes with the order (the
Claim's request, member and dates) and is known when the form starts.

Given a partial case and the questions answered so far, ``Openings`` says which
values each dimension can still take: every value while all its questions are
unanswered, exactly the case's value once they are all answered (or present in
the case, pre-populated), and for a dimension shared by answered and unanswered
questions (``response``: objective and symptoms) the values some answer to the
open ones would give.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable

from clingo import Symbol

from ..analysis.space import REQUEST_DATE, Dim, Space, Value, _Outside
from ..case.facts import case_symbols
from ..engine.errors import InputError
from ..case.pas.schema import answer_items
from .pair import dim_predicates

__all__ = ["ORDER_FIELDS", "Openings", "Ownership", "get_path", "present"]

ORDER_FIELDS = ("id", "request", "member")  # what the Claim (the order) carries: fhir-pas.md, "Mapping"


def get_path(case: dict, link_id: str) -> Any:
    """The value at a dotted case path, or None when absent."""
    node: Any = case
    for part in link_id.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set_path(case: dict, link_id: str, value: Any) -> None:
    *parents, name = link_id.split(".")
    node = case
    for part in parents:
        node = node.setdefault(part, {})
    node[name] = value


def _drop_path(case: dict, link_id: str) -> None:
    *parents, name = link_id.split(".")
    node = case
    for part in parents:
        if part not in node:
            return
        node = node[part]
    node.pop(name, None)
    if parents and not node:  # an object none of whose fields is present is omitted
        _drop_path(case, ".".join(parents))


def present(case: dict, link_id: str) -> bool:
    return get_path(case, link_id) is not None


@dataclass
class Ownership:
    """Questions (in the Questionnaire's order) and the dimensions each owns."""

    questions: tuple[str, ...]
    dims: dict[str, tuple[str, ...]]  # question -> its dimensions
    owners: dict[str, tuple[str, ...]]  # dimension -> its questions (empty: known from the order)
    predicates: dict[str, frozenset[str]]  # question -> the input predicates its answer gives

    @classmethod
    def of(cls, space: Space) -> "Ownership":
        from ..service.questionnaire import field_predicates

        predicates = field_predicates()
        questions = tuple(item.link_id for item in answer_items())
        owners = {dim.name: tuple(q for q in questions if predicates.get(q, frozenset()) & dim_predicates(dim)) for dim in space.dims}
        dims = {q: tuple(d for d, qs in owners.items() if q in qs) for q in questions}
        return cls(questions, dims, owners, {q: predicates.get(q, frozenset()) for q in questions})

    def order_time(self) -> tuple[str, ...]:
        return tuple(d for d, qs in self.owners.items() if not qs)


class Openings:
    """What a partial case leaves open: per dimension, the values a completion can give it."""

    def __init__(self, space: Space, ownership: Ownership, case_model: Any, case: dict, answered: Iterable[str]):
        self.space = space
        self.ownership = ownership
        self.case = case
        answered = set(answered)
        self.free = tuple(q for q in ownership.questions if q not in answered and not present(case, q))
        self.validated = case_model.validate(case, "<partial case>")
        self.facts: dict[str, list[Symbol]] = {}
        for fact in case_symbols(0, self.validated):
            self.facts.setdefault(fact.name, []).append(fact)
        self.allowed: dict[str, tuple[str, ...]] = {}
        self.outside: list[str] = []  # fixed dimensions the case does not fit (handled by a given-facts program)
        for dim in space.dims:
            open_questions = [q for q in ownership.owners[dim.name] if q in self.free]
            if len(open_questions) == len(ownership.owners[dim.name]) and open_questions:
                continue  # every value is still possible
            if not open_questions:
                try:
                    self.allowed[dim.name] = (dim.locate(dim, self.facts),)
                except _Outside:
                    self.outside.append(dim.name)
                continue
            keys = self._mixed(dim, open_questions, case_model)
            if keys:
                self.allowed[dim.name] = keys

    def _mixed(self, dim: Dim, open_questions: list[str], case_model: Any) -> tuple[str, ...]:
        """The values of a dimension shared by answered and open questions that some answer gives."""
        keys = []
        for value in dim.values:
            scratch: dict = {"id": "x", "request": {"date": REQUEST_DATE}}
            try:
                value.fragment(scratch)
            except (KeyError, IndexError, TypeError):
                continue
            candidate = copy.deepcopy(self.case)
            for question in open_questions:
                _drop_path(candidate, question)
                found = get_path(scratch, question)
                if found is not None:
                    _set_path(candidate, question, copy.deepcopy(found))
            try:
                validated = case_model.validate(candidate, "<candidate>")
                facts: dict[str, list[Symbol]] = {}
                for fact in case_symbols(0, validated):
                    facts.setdefault(fact.name, []).append(fact)
                if dim.locate(dim, facts) == value.key:
                    keys.append(value.key)
            except (InputError, _Outside, KeyError, IndexError, TypeError, ValueError):  # rejected or unplaceable: no value
                continue
        return tuple(keys)

    def given(self) -> tuple[Value, frozenset[str]] | None:
        """For dimensions the case does not fit: one value holding the case's own facts of their predicates."""
        if not self.outside:
            return None
        names = set(self.outside)
        grown = True
        while grown:  # every dimension sharing a predicate with one of them goes too
            preds = frozenset().union(*(dim_predicates(self.space.dim(n)) for n in names))
            more = {d.name for d in self.space.dims if dim_predicates(d) & preds} - names
            grown = bool(more)
            names |= more
        facts = tuple(sorted((f for p in preds for f in self.facts.get(p, [])), key=str))
        return Value("given", facts, lambda case: None), frozenset(names)
