"""The generic at_least(N) node (engine/encodings/evaluate.lp, explain.lp), through clingo.

A made-up tree, apart from any policy: "at least 2 of three leaves" for every
combination of the leaves' statuses, against the definition (met when at least N
children are met; not_met when fewer than N can still be met, i.e. met +
undocumented < N; else undocumented), and the reasons explain.lp gives for it.
"""

from __future__ import annotations

import itertools

import clingo
import pytest
from clingo import Function, Number, String

from lemtrada_asp.engine.knowledge import ENCODINGS

VALUES = ["not_met", "undocumented", "met"]

TREE = """
#defined case/1.
review(K, initial) :- case(K).
top(initial, "TWO"). top(initial, "ONE"). top(initial, "ALL").
node("TWO", at_least(2)). child("TWO", ("a"; "b"; "c")).
node("ONE", at_least(1)). child("ONE", ("d"; "e")).
node("ALL", at_least(2)). child("ALL", ("f"; "g")).
node(("a"; "b"; "c"; "d"; "e"; "f"; "g"), leaf).
"""


def expected(statuses: tuple[str, ...], n: int) -> str:
    met = statuses.count("met")
    could = met + statuses.count("undocumented")
    return "met" if met >= n else "not_met" if could < n else "undocumented"


def evaluate(findings: dict[str, str]) -> tuple[dict[str, str], set[tuple[str, str]]]:
    ctl = clingo.Control(["--warn=none"])
    for name in ("evaluate.lp", "decide.lp", "explain.lp"):
        ctl.load(str(ENCODINGS / name))
    ctl.add("base", [], TREE)
    with ctl.backend() as backend:
        facts = [Function("case", [Number(1)])]
        facts += [Function("finding", [Number(1), String(leaf), Function(s), Function("test")]) for leaf, s in findings.items()]
        for fact in facts:
            backend.add_rule([backend.add_atom(fact)])
    ctl.ground([("base", [])])
    statuses: dict[str, list[str]] = {}
    reasons: set[tuple[str, str]] = set()
    models = 0
    with ctl.solve(yield_=True) as handle:
        for model in handle:
            models += 1
            for atom in model.symbols(atoms=True):
                if atom.name == "status":
                    statuses.setdefault(atom.arguments[1].string, []).append(atom.arguments[2].name)
                elif atom.name == "reason":
                    reasons.add((atom.arguments[1].string, atom.arguments[2].string))
    assert models == 1
    assert all(len(v) == 1 for v in statuses.values()), statuses  # one status per node
    return {k: v[0] for k, v in statuses.items()}, reasons


OTHERS = {"d": "met", "e": "met", "f": "met", "g": "met"}


@pytest.mark.parametrize("a,b,c", list(itertools.product(VALUES, VALUES, VALUES)))
def test_at_least_two_of_three_follows_its_definition(a, b, c):
    got, _ = evaluate({"a": a, "b": b, "c": c, **OTHERS})
    assert got["TWO"] == expected((a, b, c), 2)


@pytest.mark.parametrize("d,e", list(itertools.product(VALUES, VALUES)))
def test_at_least_one_is_any_of_and_at_least_all_is_all_of(d, e):
    got, _ = evaluate({"a": "met", "b": "met", "c": "met", "d": d, "e": e, "f": d, "g": e})
    rank = {"not_met": 0, "undocumented": 1, "met": 2}
    assert got["ONE"] == max(d, e, key=rank.get)  # strong Kleene "or"
    assert got["ALL"] == min(d, e, key=rank.get)  # strong Kleene "and"


def test_the_reasons_of_a_not_met_node_are_its_not_met_children():
    # met + undocumented = 1 < 2: not_met, because b and c failed; a passed and is no reason
    got, reasons = evaluate({"a": "met", "b": "not_met", "c": "not_met", **OTHERS})
    assert got["TWO"] == "not_met"
    assert {r for r in reasons if r[0] == "TWO"} == {("TWO", "b"), ("TWO", "c")}


def test_the_reasons_of_an_undocumented_node_are_its_undocumented_children():
    # one met, one undocumented, one not_met: could still reach 2, so undocumented because of b
    got, reasons = evaluate({"a": "met", "b": "undocumented", "c": "not_met", **OTHERS})
    assert got["TWO"] == "undocumented"
    assert {r for r in reasons if r[0] == "TWO"} == {("TWO", "b")}


def test_a_met_node_has_no_reasons():
    got, reasons = evaluate({"a": "met", "b": "met", "c": "not_met", **OTHERS})
    assert got["TWO"] == "met"
    assert not reasons
