"""The generic three-valued evaluator (kb/evaluate.lp), through clingo, on a made-up tree.

The tree is data, so the evaluator is tested apart from the Lemtrada criteria: a
root "all of" two leaves, and a root "any of" two leaves, for every pair of leaf
statuses. Expected values are the spec's strong Kleene tables.
"""

from __future__ import annotations

import itertools

import clingo
import pytest
from clingo import Function, Number, String

from lemtrada_asp.engine.knowledge import ENCODINGS

VALUES = ["not_met", "undocumented", "met"]

# criteria.md, "Three values":
# all of: not_met if any child is not_met; else undocumented if any child is; else met.
ALL_OF = {
    ("not_met", "not_met"): "not_met", ("not_met", "undocumented"): "not_met", ("not_met", "met"): "not_met",
    ("undocumented", "not_met"): "not_met", ("undocumented", "undocumented"): "undocumented",
    ("undocumented", "met"): "undocumented",
    ("met", "not_met"): "not_met", ("met", "undocumented"): "undocumented", ("met", "met"): "met",
}
# any of: met if any child is met; else undocumented if any child is; else not_met.
ANY_OF = {
    ("not_met", "not_met"): "not_met", ("not_met", "undocumented"): "undocumented", ("not_met", "met"): "met",
    ("undocumented", "not_met"): "undocumented", ("undocumented", "undocumented"): "undocumented",
    ("undocumented", "met"): "met",
    ("met", "not_met"): "met", ("met", "undocumented"): "met", ("met", "met"): "met",
}

TREE = """
#defined case/1.
review(K, initial) :- case(K).
top(initial, "AND"). top(initial, "OR"). top(initial, "NEST").
node("AND", all_of). child("AND", ("a"; "b")).
node("OR", any_of). child("OR", ("c"; "d")).
node(("a"; "b"; "c"; "d"), leaf).
% NEST = all of (e, any of (f, g)): statuses flow up two levels.
node("NEST", all_of). child("NEST", ("e"; "FG")). node("FG", any_of). child("FG", ("f"; "g")).
node(("e"; "f"; "g"), leaf).
node("X", exclusion).
"""


def evaluate(findings: dict[str, str], applies: bool = False) -> dict[str, str]:
    ctl = clingo.Control(["--warn=none"])
    ctl.load(str(ENCODINGS / "evaluate.lp"))  # the engine's evaluator alone, no policy
    ctl.add("base", [], TREE)
    with ctl.backend() as backend:
        facts = [Function("case", [Number(1)])]
        facts += [
            Function("finding", [Number(1), String(leaf), Function(status), Function("test")])
            for leaf, status in findings.items()
        ]
        if applies:
            facts.append(Function("finding", [Number(1), String("X"), Function("applies"), Function("test")]))
        for fact in facts:
            backend.add_rule([backend.add_atom(fact)])
    ctl.ground([("base", [])])
    result: dict[str, str] = {}
    with ctl.solve(yield_=True) as handle:
        model = next(iter(handle))
        for atom in model.symbols(atoms=True):
            if atom.name == "status" and atom.arguments[0].number == 1:
                result[atom.arguments[1].string] = atom.arguments[2].name
    return result


@pytest.mark.parametrize("a,b", list(itertools.product(VALUES, VALUES)))
def test_all_of_is_the_strong_kleene_conjunction(a, b):
    assert evaluate({"a": a, "b": b, "c": "met", "d": "met", "e": "met", "f": "met", "g": "met"})["AND"] == ALL_OF[(a, b)]


@pytest.mark.parametrize("c,d", list(itertools.product(VALUES, VALUES)))
def test_any_of_is_the_strong_kleene_disjunction(c, d):
    assert evaluate({"a": "met", "b": "met", "c": c, "d": d, "e": "met", "f": "met", "g": "met"})["OR"] == ANY_OF[(c, d)]


@pytest.mark.parametrize("e,f,g", list(itertools.product(VALUES, VALUES, VALUES)))
def test_statuses_combine_through_nested_nodes(e, f, g):
    got = evaluate({"a": "met", "b": "met", "c": "met", "d": "met", "e": e, "f": f, "g": g})
    assert got["FG"] == ANY_OF[(f, g)]
    assert got["NEST"] == ALL_OF[(e, ANY_OF[(f, g)])]


def test_an_exclusion_applies_only_on_a_finding_and_otherwise_does_not_apply():
    leaves = {leaf: "met" for leaf in "abcdefg"}
    assert evaluate(leaves, applies=True)["X"] == "applies"
    assert evaluate(leaves, applies=False)["X"] == "does_not_apply"
