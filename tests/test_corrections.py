"""Minimal corrections through clingo: exact sets, their order, and an exhaustive cross-check.

Expected sets are worked out from criteria.md by hand: which leaves of the varied
case are not met (or exclusions apply), and which fewest of them must change for
the decision rules to approve. The cross-check does not trust kb/corrections.lp at
all: it asks the plain decision program (kb/lemtrada.lp) about every combination
of changes, smallest first, and compares.
"""

from __future__ import annotations

import shutil
from itertools import combinations

import clingo
import pytest

from conftest import CASES_DIR, CONTINUATION, DELETE, INITIAL, KB_DIR, vary
from lemtrada_asp.engine.corrections import Corrector
from lemtrada_asp.engine.engine import Engine
from lemtrada_asp.case.facts import case_symbols
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.case.model import validate_case
from lemtrada_asp.engine.loading import is_case_file, iter_items

EXAMPLES = sorted(p for p in CASES_DIR.iterdir() if is_case_file(p))


@pytest.fixture(scope="module")
def corrector() -> Corrector:
    return Corrector(Engine(KnowledgeBase(KB_DIR)))


@pytest.fixture(scope="module")
def corrections(corrector):
    """Corrections of one case (a dict): each set as [(id, actionable), ...]."""

    def run(data):
        [sets] = corrector.corrections([validate_case(data, "test")])
        return [[(c.id, c.actionable) for c in changes] for changes in sets]

    return run


A, N = True, False  # actionable, not actionable

EXPECTED = [
    # name, case, corrections
    ("only the natalizumab trial is missing: one leaf, documentation settles it",
     vary(INITIAL, {"dmt_history": [{"drug": "fingolimod", "outcome": "intolerant"}]}),
     [[("I4.a", A)]]),
    ("natalizumab was effective: the trial leaf is not met, still the requester's to change",
     vary(INITIAL, {"dmt_history": [{"drug": "natalizumab", "outcome": "effective"}, {"drug": "fingolimod", "outcome": "failed"}]}),
     [[("I4.a", A)]]),
    ("an old chart and a 3-day first course: two leaves of different criteria, both needed",
     vary(INITIAL, {"chart_date": "2025-12-01", "request.days": 3}),
     [[("I0", A), ("I7", A)]]),
    ("no oral DMT tried: any one of the three alternatives of the any-of, in policy order",
     vary(INITIAL, {"dmt_history": [{"drug": "natalizumab", "outcome": "failed"}]}),
     [[("I4.b.i", A)], [("I4.b.ii", A)], [("I4.b.iii", A)]]),
    ("primary progressive MS: either MS form and the exclusion, none actionable",
     vary(INITIAL, {"diagnosis.ms_course": "primary_progressive"}),
     [[("I3.a", N), ("E4", N)], [("I3.b", N), ("E4", N)]]),
    ("a 16-year-old on a first course: the age criterion and the pediatric exclusion",
     vary(INITIAL, {"member.birth_date": "2010-01-01"}),
     [[("I2", N), ("E6", N)]]),
    ("a 17-year-old on a first course: the age criterion alone, not actionable",
     vary(INITIAL, {"member.birth_date": "2009-01-01"}),
     [[("I2", N)]]),
    ("HIV: the criterion and the exclusion, not actionable",
     vary(INITIAL, {"hiv_positive": True}),
     [[("I5.a", N), ("E5", N)]]),
    ("a concurrent DMT: monotherapy and the combination exclusion, not actionable",
     vary(INITIAL, {"concurrent_dmts": ["ocrelizumab"]}),
     [[("I6", N), ("E1", N)]]),
    ("chart, prescriber and birth date missing: a pend needing all three, all actionable",
     vary(INITIAL, {"chart_date": DELETE, "prescriber": DELETE, "member.birth_date": DELETE}),
     [[("I0", A), ("I1", A), ("I2", A)]]),
    ("SPMS without documented activity: the actionable set comes before the one that is not",
     vary(INITIAL, {"diagnosis.ms_course": "secondary_progressive", "diagnosis.active": DELETE}),
     [[("I3.b", A)], [("I3.a", N)]]),
    ("a condition other than MS: either MS form and the exclusion",
     vary(INITIAL, {"diagnosis.condition": "crohns_disease", "diagnosis.ms_course": DELETE}),
     [[("I3.a", N), ("E3", N)], [("I3.b", N), ("E3", N)]]),
    ("a continuation whose response lists nothing: either response leaf, a clinical fact",
     vary(CONTINUATION, {"response": {"objective": [], "symptoms": []}}),
     [[("C2.a", N)], [("C2.b", N)]]),
    ("a continuation without any response documented: either response leaf, actionable",
     vary(CONTINUATION, {"response": DELETE}),
     [[("C2.a", A)], [("C2.b", A)]]),
    ("a third course too soon after the last: the interval alone reaches the case-by-case review",
     vary(CONTINUATION, {"lemtrada_courses": [{"start_date": "2024-03-01", "days": 5}, {"start_date": "2025-09-01", "days": 3}]}),
     [[("C3", A)]]),
]


@pytest.mark.parametrize("name, case, expected", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_minimal_corrections_are_exactly_the_expected_sets_in_order(corrections, name, case, expected):
    assert corrections(case) == expected


def test_an_approvable_case_needs_no_change(corrections):
    assert corrections(INITIAL) == [[]]


def test_each_change_carries_its_title_and_what_would_have_to_be_true(corrector):
    [sets] = corrector.corrections([validate_case(EXPECTED[0][1], "test")])
    assert [[c.to_json() for c in changes] for changes in sets] == [[{
        "id": "I4.a",
        "title": "Natalizumab (Tysabri) tried and failed, or unable to use",
        "change": "natalizumab (Tysabri) tried and failed, or documented as unable to use",
        "actionable": True,
    }]]


def test_a_case_gets_the_same_corrections_alone_in_a_batch_and_across_chunks(corrector):
    cases = [validate_case(vary(case, {"id": f"B-{i}"}), "test") for i, (_, case, _) in enumerate(EXPECTED)]
    alone = [corrector.corrections([c])[0] for c in cases]
    assert corrector.corrections(cases) == alone
    assert corrector.corrections(list(reversed(cases))) == list(reversed(alone))
    assert corrector.corrections(cases, chunk=4) == alone


# --- exhaustive cross-check against the plain decision program -------------------------

WHAT_IF = """
#external hypothetical(0, Id, met) : node(Id, leaf).
#external hypothetical(0, Id, does_not_apply) : node(Id, exclusion).
"""  # fixed text: no case data enters it


def brute_force(case) -> list[frozenset[str]]:
    """Every least set of leaves (to met) and exclusions (to not applying) that lemtrada.lp approves."""
    ctl, _ = KnowledgeBase(KB_DIR).control()
    ctl.add("base", [], WHAT_IF)
    with ctl.backend() as backend:
        for symbol in case_symbols(0, case):
            backend.add_rule([backend.add_atom(symbol)])
    ctl.ground([("base", []), ("details", [])])

    def shown() -> list[clingo.Symbol]:
        with ctl.solve(yield_=True) as handle:
            return list(next(iter(handle)).symbols(shown=True))

    statuses = {(str(a.arguments[1].string)): a.arguments[2].name for a in shown() if a.name == "status"}
    leaves = {str(a.symbol.arguments[1].string) for a in ctl.symbolic_atoms.by_signature("hypothetical", 3)}
    candidates = sorted(i for i in leaves if statuses.get(i) in ("not_met", "undocumented", "applies"))
    for size in range(len(candidates) + 1):
        found = []
        for combo in combinations(candidates, size):
            for ident in candidates:
                target = "does_not_apply" if statuses[ident] == "applies" else "met"
                ctl.assign_external(clingo.Function("hypothetical", [clingo.Number(0), clingo.String(ident), clingo.Function(target)]), ident in combo)
            decisions = [a for a in shown() if a.name == "decision"]
            if [(d.arguments[1].name, d.arguments[2].name) for d in decisions] in ([("approve", "none")], [("pend", "case_by_case")]):
                found.append(frozenset(combo))
        if found:
            return found
    return []


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name.rsplit(".", 1)[0] for p in EXAMPLES])
def test_corrections_of_every_example_case_are_all_least_sets_the_decision_rules_accept(corrector, path):
    [item] = iter_items([str(path)], validate_case)
    decision = Engine(KnowledgeBase(KB_DIR)).decide([(item.source, item.case)], details=False)[0]
    [sets] = corrector.corrections([item.case])
    mine = [frozenset(c.id for c in changes) for changes in sets]
    assert len(mine) == len(set(mine)) and mine  # no set twice, and at least one
    assert set(mine) == set(brute_force(item.case))
    at_target = decision.decision == "approve" or decision.pend_reason == "case_by_case"
    assert (mine == [frozenset()]) == at_target  # the empty set exactly when nothing has to change


# --- the knowledge base side ------------------------------------------------------------


def test_a_rule_file_only_the_root_includes_reaches_corrections_too(tmp_path):
    """Reproduction (issue 9): a new rule file included only by the root once left I4 out of corrections."""
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    moved = kb / "criteria" / "i4_step_therapy.lp"
    (kb / "analyst_rules.lp").write_text(moved.read_text())
    moved.write_text("% moved to analyst_rules.lp\n")
    root = kb / "lemtrada.lp"
    root.write_text(root.read_text() + '#include "analyst_rules.lp".\n')
    cases = [validate_case(c, c["id"]) for c in generate_cases(300, 5)]
    shipped, edited = Engine(KnowledgeBase(KB_DIR)), Engine(KnowledgeBase(kb))
    pairs = [(c.id, c) for c in cases]
    before = [d.corrections for d in shipped.decide(pairs, corrections=True)]
    after = [d.corrections for d in edited.decide(pairs, corrections=True)]
    assert sum(1 for c in before if c) > 50  # the corpus has many cases to correct
    assert after == before


def test_every_program_loads_the_one_root_and_only_the_engine_adds_to_it():
    kb = KnowledgeBase(KB_DIR)
    for program in ("decide", "whatif"):
        files = kb.program_files(program)
        assert files[0] == kb.root
        assert all(f.parent.name == "encodings" for f in files[1:])
    assert list(KB_DIR.rglob("corrections.lp")) == []


def test_every_leaf_and_exclusion_has_a_change_text():
    ctl, _ = KnowledgeBase(KB_DIR).control()
    ctl.ground([("base", [])])
    texts = {a.symbol.arguments[0].string for a in ctl.symbolic_atoms.by_signature("change_text", 2)}
    leaves = {a.symbol.arguments[0].string for a in ctl.symbolic_atoms.by_signature("node", 2)
              if a.symbol.arguments[1].name in ("leaf", "exclusion")}
    assert leaves - texts == set()
