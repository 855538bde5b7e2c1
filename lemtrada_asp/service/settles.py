"""Which criteria each case field settles, read from the KB's rules themselves.

A leaf rule derives ``finding(K, Id, Status, Evidence)`` from input predicates,
directly or through helper predicates (``has_chart(K) :- chart_months_back(K, _)``).
Following the rule bodies down to the input predicates says which leaves (and
exclusions) each input can change; asking facts.py which input predicates a case
field produces closes the chain field -> predicates -> criteria. Nothing here
is a table to keep in step with the KB: an analyst who adds a leaf rule over an
existing input, or a field with its facts, gets the item's criteria updated.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from clingo import SymbolType, ast

from ..engine.astwalk import walk

FINDING = "finding"


def _atoms(node: Any) -> Iterator[Any]:
    """Every symbolic atom below an AST node (bodies, conditions, aggregates)."""
    return (n.symbol for n in walk(node) if n.ast_type == ast.ASTType.SymbolicAtom)


def _name(term: Any) -> str | None:
    if term.ast_type == ast.ASTType.Function:
        return term.name
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Function:
        return term.symbol.name
    return None


def _args(term: Any) -> list[Any]:
    return list(term.arguments) if term.ast_type == ast.ASTType.Function else []


def _strings(term: Any) -> list[str] | None:
    """The criterion ids a ground head term names (a string, or a pool of strings)."""
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.String:
        return [term.symbol.string]
    if term.ast_type == ast.ASTType.Pool:
        found = [s for t in term.arguments for s in (_strings(t) or [])]
        return found or None
    return None


@lru_cache(maxsize=8)
def leaf_inputs(root: Path, inputs: frozenset[str]) -> dict[str, frozenset[str]]:
    """Criterion id -> the input predicates its findings read, for the KB rooted at ``root``."""
    rules: list[Any] = []
    ast.parse_files([str(root)], lambda s: rules.append(s) if s.ast_type == ast.ASTType.Rule else None)
    facts: dict[str, list[list[Any]]] = defaultdict(list)
    body_of: dict[str, set[str]] = defaultdict(set)
    for rule in rules:
        head = list(_atoms(rule.head))
        names = {n for a in _atoms(rule.body) if (n := _name(a))}
        for atom in head:
            name = _name(atom)
            if name:
                body_of[name] |= names
                if not rule.body:
                    facts[name].append(_args(atom))

    def reach(names: set[str], seen: set[str]) -> set[str]:
        out = set(names & inputs)
        for name in names - inputs - seen - {FINDING}:
            seen.add(name)
            out |= reach(body_of.get(name, set()), seen)
        return out

    result: dict[str, set[str]] = defaultdict(set)
    for rule in rules:
        for atom in _atoms(rule.head):
            if _name(atom) != FINDING or len(_args(atom)) < 2:
                continue
            id_term = _args(atom)[1]
            body = list(_atoms(rule.body))
            ids = _strings(id_term) or _ids_bound_by_data(id_term, body, facts)
            used = reach({n for a in body if (n := _name(a))}, set())
            for criterion in ids:
                result[criterion] |= used
    return {k: frozenset(v) for k, v in result.items()}


def _ids_bound_by_data(id_term: Any, body: list[Any], facts: dict[str, list[list[Any]]]) -> list[str]:
    """For ``finding(K, Id, ..) :- recency_window(Id, P), ..``: the ids the data facts give Id."""
    if id_term.ast_type != ast.ASTType.Variable:
        return []
    ids: list[str] = []
    for atom in body:
        name = _name(atom)
        for position, arg in enumerate(_args(atom)):
            if arg.ast_type == ast.ASTType.Variable and arg.name == id_term.name and name in facts:
                for fact in facts[name]:
                    if position < len(fact):
                        ids += _strings(fact[position]) or []
    return ids


@lru_cache(maxsize=8)
def catalogue_order(root: Path) -> tuple[str, ...]:
    """Criterion ids in the order the catalogue declares them (``criterion(Id, Title, Section)``)."""
    order: list[str] = []

    def visit(stm: Any) -> None:
        if stm.ast_type == ast.ASTType.Rule and not stm.body:
            for atom in _atoms(stm.head):
                if _name(atom) == "criterion" and _args(atom):
                    order.extend(s for s in (_strings(_args(atom)[0]) or []) if s not in order)

    ast.parse_files([str(root)], visit)
    return tuple(order)


@lru_cache(maxsize=8)
def vocabulary(root: Path, suffix: str = "_condition") -> tuple[str, ...]:
    """The KB's condition vocabulary: the terms of its ``condition_term(Term, Concept)`` facts
    (criteria.md, "Condition vocabulary"), and the strings of one-argument data facts named
    ``*_condition`` (the older form)."""
    found: list[str] = []

    def visit(stm: Any) -> None:
        if stm.ast_type == ast.ASTType.Rule and not stm.body:
            for atom in _atoms(stm.head):
                name = _name(atom)
                arity = len(_args(atom))
                if name and ((name.endswith(suffix) and arity == 1) or (name == "condition_term" and arity == 2)):
                    found.extend(s for s in (_strings(_args(atom)[0]) or []) if s not in found)

    ast.parse_files([str(root)], visit)
    return tuple(found)
