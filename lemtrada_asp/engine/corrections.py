"""Minimal corrections: what would have to change for a case to be approved.

The question is put to clingo with the KB's own decision rules (the policy's root
with the engine's encodings/whatif.lp), so the answer can never drift from how
cases are decided. Cost is what shaped this module: a fresh Control per case is
too slow for batches, so a chunk of cases is grounded once and solved in a few
rounds, each round showing one more minimal set per case (see the header of
encodings/whatif.lp). Rounds depend on the most corrections one case has, not on
the number of cases.

Results are sorted here, not left to the solver's order: sets whose every change
is actionable first, then by the policy order of their ids. So a case gets the
same corrections in the same order alone or in any batch.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol, Sequence

import clingo
from clingo import Function, Number, String

from . import guard
from .atoms import read
from .catalogue import Catalogue, criterion_sort_key
from .errors import KnowledgeBaseError
from .record import Change



class Decides(Protocol):
    """What the Corrector reads of an engine (engine.Engine), named here so this module needs not import it."""

    kb: Any  # knowledge.KnowledgeBase
    case_model: Any  # casemodel.CaseModel
    catalogue: Catalogue

__all__ = ["Corrector", "corrector_for"]

# Core-guided optimisation: the chunk's cases are independent, which suits it;
# model-guided (bb) search did not finish a few hundred cases in minutes.
SOLVER_ARGUMENTS = ["--opt-mode=opt", "--opt-strategy=usc"]
CHUNK = 200  # cases per ground program: fewer pay more per-chunk load and ground, more pay more per round

Correction = tuple[Change, ...]  # one minimal set, in policy order


class Corrector:
    """Computes every cardinality-minimal correction of many cases in few solver calls."""

    def __init__(self, engine: Decides):
        self.kb = engine.kb
        self.symbols = engine.case_model.symbols
        self.case_id = engine.case_model.case_id
        self.catalogue = engine.catalogue
        self._rank = _policy_rank(self.catalogue)
        self._messages: list[str] = []

    def corrections(self, cases: Sequence[Any], chunk: int = CHUNK) -> list[tuple[Correction, ...]]:
        """For each case, its minimal corrections (an approvable case has one: the empty set)."""
        results: list[tuple[Correction, ...]] = []
        for start in range(0, len(cases), chunk):
            results += self._solve_chunk(cases[start : start + chunk])
        return results

    def _solve_chunk(self, cases: Sequence[Any]) -> list[tuple[Correction, ...]]:
        if not cases:
            return []
        ctl, self._messages = self.kb.control(SOLVER_ARGUMENTS, program="whatif")
        with ctl.backend() as backend:
            for key, case in enumerate(cases):
                for symbol in self.symbols(key, case):
                    backend.add_rule([backend.add_atom(symbol)])
        self._ground(ctl, [("base", [])])

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
                if changes in found[key]:  # an edited whatif that does not block what it found
                    raise KnowledgeBaseError(
                        f"{self.kb.root}: corrections do not converge for case {self.case_id(cases[key])}: "
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

    def _ground(self, ctl: clingo.Control, parts) -> None:
        self.kb.ground(ctl, self._messages, parts, "grounding corrections")

    def _solve_round(self, ctl: clingo.Control, cases: Sequence[Any], round_number: int):
        last: list[clingo.Symbol] | None = None

        def keep(model: clingo.Model) -> None:
            nonlocal last
            last = model.symbols(shown=True)

        with guard.running("solving corrections"):
            result = ctl.solve(on_model=keep)
        if last is None or not result.exhausted:
            who = ", ".join(self.case_id(c) for c in cases[:5]) + (", ..." if len(cases) > 5 else "")
            raise KnowledgeBaseError(
                f"corrections find no change of leaves that reaches a target decision (round {round_number}; cases {who})",
                ["every leaf met and no exclusion applying should always reach a correction_target: check the policy's hooks"],
            )
        shown: dict[int, list[tuple[str, bool]]] = {}
        exhausted: set[int] = set()
        for atom in last:
            name, args = read(atom)
            if name == "correction":
                shown.setdefault(args[0].number, []).append(_change_of(args))
            elif name == "exhausted":
                exhausted.add(args[0].number)
        return shown, exhausted

    def from_answers(self, answers: Sequence[Sequence[clingo.Symbol]]) -> tuple[Correction, ...]:
        """One case's corrections from the shown atoms of every optimal what-if answer (cache.py's path)."""
        sets: list[frozenset[tuple[str, bool]]] = []
        for atoms in answers:
            changes = frozenset(_change_of(args) for name, args in map(read, atoms) if name == "correction")
            if changes not in sets:
                sets.append(changes)
        return self._ordered(sets)

    def _ordered(self, sets: list[frozenset[tuple[str, bool]]]) -> tuple[Correction, ...]:
        ordered = [sorted(changes, key=lambda c: self._rank(c[0])) for changes in sets]
        ordered.sort(key=lambda cs: (not all(a for _, a in cs), [self._rank(i) for i, _ in cs]))
        return tuple(tuple(self._change(i, a) for i, a in cs) for cs in ordered)

    def _change(self, ident: str, actionable: bool) -> Change:
        info = self.catalogue.info(ident)
        return Change(ident, info.title, info.change or info.title, actionable)


def _change_of(args: Sequence[clingo.Symbol]) -> tuple[str, bool]:
    """correction(K, Id, A): the id that changes, and whether the change is actionable."""
    return args[1].string, args[2].name == "actionable"


def _found_facts(key: int, round_number: int, changes: frozenset[tuple[str, bool]]) -> list[clingo.Symbol]:
    """The input of part round(R) (and, after round 1, of part least) for one case."""
    k, r = Number(key), Number(round_number)
    facts = [Function("found_set", [k, r])] + [Function("found", [k, r, String(i)]) for i, _ in changes]
    if round_number == 1:
        facts.append(Function("least", [k, Number(len(changes))]))
    return facts


def _policy_rank(catalogue: Catalogue):
    """A sort key: the policy order of an id's top-level criterion, then the id itself."""

    def rank(ident: str) -> tuple:
        return (catalogue.info(catalogue.top_of(ident)).order, criterion_sort_key(ident))

    return rank


_correctors: "weakref.WeakKeyDictionary[Decides, Corrector]" = weakref.WeakKeyDictionary()


def corrector_for(engine: Decides) -> Corrector:
    """One Corrector per Engine."""
    found = _correctors.get(engine)
    if found is None:
        found = _correctors[engine] = Corrector(engine)
    return found
