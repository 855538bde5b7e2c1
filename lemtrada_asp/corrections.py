"""Minimal corrections: what would have to change for a case to be approved.

The question is put to clingo with the KB's own decision rules (kb/corrections.lp
loads them with what-ifs), so the answer can never drift from how cases are
decided. Cost is what shaped this module: a fresh Control per case is too slow
for batches, so a chunk of cases is grounded once and solved in a few rounds, each round showing one more minimal set per case (see the header of
kb/corrections.lp). Rounds depend on the most corrections one case has, not on
the number of cases.

Results are sorted here, not left to the solver's order: sets whose every change
is actionable first, then by the policy order of their ids. So a case gets the
same corrections in the same order alone or in any batch.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Sequence

import clingo
from clingo import Function, Number, String

from .decision import Decision
from .errors import KnowledgeBaseError
from .facts import case_symbols
from .kbase import Catalogue, KnowledgeBase, criterion_sort_key
from .model import Case

ROOT_FILE = "corrections.lp"
CHUNK = 200  # cases per ground program: fewer pay more per-chunk load and ground, more pay more per round
# Core-guided optimisation: the chunk's cases are independent, which suits it;
# model-guided (bb) search did not finish a few hundred cases in minutes.
SOLVER_ARGUMENTS = ["--opt-mode=opt", "--opt-strategy=usc"]


@dataclass(frozen=True)
class Change:
    """One leaf or exclusion that would have to change, in a correction."""

    id: str
    title: str
    change: str
    actionable: bool

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "change": self.change, "actionable": self.actionable}


Correction = list[dict[str, Any]]  # one set: Change.as_json() per id, in policy order


class Corrector:
    """Computes every cardinality-minimal correction of many cases in few solver calls."""

    def __init__(self, kb: KnowledgeBase | None = None):
        self.kb = kb or KnowledgeBase()
        self.root = self.kb.directory / ROOT_FILE
        if not self.root.is_file():
            raise KnowledgeBaseError(
                f"knowledge base {self.kb.directory} has no {ROOT_FILE}: corrections cannot be computed with it"
            )
        self.catalogue = self.kb.catalogue
        self._rank = _policy_rank(self.catalogue)
        self._texts: dict[str, str] | None = None  # change_text/2, read from the first ground program
        self._messages: list[str] = []

    def corrections(self, cases: Sequence[Case], chunk: int = CHUNK) -> list[list[Correction]]:
        """For each case, its minimal corrections (an approvable case has one: the empty set)."""
        results: list[list[Correction]] = []
        for start in range(0, len(cases), chunk):
            results += self._solve_chunk(cases[start : start + chunk])
        return results

    def _solve_chunk(self, cases: Sequence[Case]) -> list[list[Correction]]:
        if not cases:
            return []
        ctl = self._control()
        with ctl.backend() as backend:
            for key, case in enumerate(cases):
                for symbol in case_symbols(key, case):
                    backend.add_rule([backend.add_atom(symbol)])
        self._ground(ctl, [("base", [])])
        if self._texts is None:
            self._texts = {a.symbol.arguments[0].string: a.symbol.arguments[1].string
                           for a in ctl.symbolic_atoms.by_signature("change_text", 2) if a.is_fact}

        found: list[list[frozenset[tuple[str, bool]]]] = [[] for _ in cases]
        open_keys = set(range(len(cases)))
        round_number = 0
        while open_keys:
            round_number += 1
            shown, exhausted = self._solve_round(ctl, cases, round_number)
            settled = open_keys & exhausted
            open_keys -= exhausted
            facts: list[clingo.Symbol] = []
            for key in sorted(open_keys):
                changes = frozenset(shown.get(key, ()))
                if changes in found[key]:  # an edited corrections.lp that does not block what it found
                    raise KnowledgeBaseError(
                        f"{self.root}: corrections do not converge for case {cases[key].id}: "
                        f"round {round_number} found again {sorted(i for i, _ in changes)}"
                    )
                found[key].append(changes)
                facts += _found_facts(key, round_number, changes)
            if open_keys:  # the next round asks each open case for a set it has not shown
                with ctl.backend() as backend:
                    for symbol in facts:
                        backend.add_rule([backend.add_atom(symbol)])
                    for key in settled:  # the solver need not find these out again
                        backend.add_rule([], [-backend.add_atom(Function("exhausted", [Number(key)]))])
                self._ground(ctl, ([("least", [])] if round_number == 1 else []) + [("round", [Number(round_number)])])
        return [self._ordered(sets) for sets in found]

    def _control(self) -> clingo.Control:
        self._messages = []
        ctl = clingo.Control(SOLVER_ARGUMENTS, logger=lambda code, text: self._messages.append(text.strip()),
                             message_limit=50)
        try:
            ctl.load(str(self.root))
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"knowledge base {self.root} does not load: {exc}", self._messages) from None
        return ctl

    def _ground(self, ctl: clingo.Control, parts) -> None:
        try:
            ctl.ground(parts)
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"knowledge base {self.root} does not ground: {exc}", self._messages) from None

    def _solve_round(self, ctl: clingo.Control, cases: Sequence[Case], round_number: int):
        last: list[clingo.Symbol] | None = None

        def keep(model: clingo.Model) -> None:
            nonlocal last
            last = model.symbols(shown=True)

        result = ctl.solve(on_model=keep)
        if last is None or not result.exhausted:
            who = ", ".join(c.id for c in cases[:5]) + (", ..." if len(cases) > 5 else "")
            raise KnowledgeBaseError(
                f"{ROOT_FILE} finds no change of leaves that reaches approval (round {round_number}; cases {who})",
                ["every leaf met and no exclusion applying should always be approvable: check decision.lp"],
            )
        shown: dict[int, list[tuple[str, bool]]] = {}
        exhausted: set[int] = set()
        for atom in last:
            args = atom.arguments
            if atom.name == "correction":
                shown.setdefault(args[0].number, []).append((args[1].string, args[2].name == "actionable"))
            elif atom.name == "exhausted":
                exhausted.add(args[0].number)
        return shown, exhausted

    def _ordered(self, sets: list[frozenset[tuple[str, bool]]]) -> list[Correction]:
        ordered = [sorted(changes, key=lambda c: self._rank(c[0])) for changes in sets]
        ordered.sort(key=lambda cs: (not all(a for _, a in cs), [self._rank(i) for i, _ in cs]))
        return [[self._change(i, a).as_json() for i, a in cs] for cs in ordered]

    def _change(self, ident: str, actionable: bool) -> Change:
        texts = self._texts or {}
        return Change(ident, self.catalogue.info(ident).title, texts.get(ident, self.catalogue.info(ident).title), actionable)


def _found_facts(key: int, round_number: int, changes: frozenset[tuple[str, bool]]) -> list[clingo.Symbol]:
    """The input of part round(R) (and, after round 1, of part least) for one case."""
    k, r = Number(key), Number(round_number)
    facts = [Function("found_set", [k, r])] + [Function("found", [k, r, String(i)]) for i, _ in changes]
    if round_number == 1:
        facts.append(Function("least", [k, Number(len(changes))]))
    return facts


def _policy_rank(catalogue: Catalogue):
    """A sort key: the policy order of an id's top-level criterion, then the id itself."""
    parent = {child: c.id for c in catalogue.criteria.values() for child in c.children}

    def rank(ident: str) -> tuple:
        top = ident
        while top in parent:
            top = parent[top]
        return (catalogue.info(top).order, criterion_sort_key(ident))

    return rank


_correctors: "weakref.WeakKeyDictionary[KnowledgeBase, Corrector]" = weakref.WeakKeyDictionary()


def corrector_for(kb: KnowledgeBase) -> Corrector:
    """One Corrector per KnowledgeBase, so a batch reads corrections.lp's texts once."""
    found = _correctors.get(kb)
    if found is None:
        found = _correctors[kb] = Corrector(kb)
    return found


def needs_corrections(decision: Decision) -> bool:
    """Denied and pended cases, except those already at the case-by-case review (their target)."""
    return decision.decision != "approve" and decision.pend_reason != "case_by_case"


def attach_corrections(kb: KnowledgeBase, decisions: Sequence[Decision]) -> None:
    """Set .corrections on every decision that needs them, in one call for the lot."""
    wanted = [d for d in decisions if needs_corrections(d)]
    for decision, sets in zip(wanted, corrector_for(kb).corrections([d.case for d in wanted])):
        decision.corrections = sets
