"""Decide cases with clingo: the KB plus the facts of many cases, one ground program.

Every case predicate is keyed by a case number, so a chunk of cases is decided by
one load, one ground and one solve; per-case work is only building facts and
reading atoms back. One case decides the same alone or in any chunk, because no
rule relates two keys.
"""

from __future__ import annotations

from typing import Sequence


from .decision import Decision, Outcome
from .errors import KnowledgeBaseError
from .facts import case_symbols
from .kbase import KnowledgeBase
from .model import Case

CHUNK = 200  # cases per ground program; measured by `python -m lemtrada_asp.bench`


class Engine:
    def __init__(self, kb: KnowledgeBase | None = None):
        self.kb = kb or KnowledgeBase()
        self.catalogue = self.kb.catalogue  # loads and grounds once: a broken KB fails here
        self.version = self.kb.version

    def decide(self, cases: Sequence[tuple[str, Case]], details: bool = True) -> list[Decision]:
        """Decide (source, case) pairs, in order.

        With details, each outcome also holds every evaluated node's status and
        finding (for explain, coverage, diff); without, only what the decision
        output needs, which is several times faster to read back.
        """
        if not cases:
            return []
        outcomes = self.solve([case for _, case in cases], details)
        return [
            Decision(case, source, outcome, self.catalogue, self.version)
            for (source, case), outcome in zip(cases, outcomes)
        ]

    def solve(self, cases: Sequence[Case], details: bool = True) -> list[Outcome]:
        # Two models asked for, so that a KB that is not deterministic is caught.
        ctl, messages = self.kb.control(["--models=2"])
        with ctl.backend() as backend:
            for key, case in enumerate(cases):
                for symbol in case_symbols(key, case):
                    backend.add_rule([backend.add_atom(symbol)])
        try:
            ctl.ground([("base", []), ("details", [])] if details else [("base", [])])
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"knowledge base {self.kb.root} does not ground: {exc}", messages) from None

        outcomes = [Outcome() for _ in cases]
        models = 0
        with ctl.solve(yield_=True) as handle:
            for model in handle:
                models += 1
                if models > 1:
                    raise KnowledgeBaseError(
                        "the knowledge base is not deterministic: it has more than one answer for a case"
                    )
                for atom in model.symbols(shown=True):
                    outcomes[atom.arguments[0].number].add(atom)
        if models == 0:
            raise KnowledgeBaseError(
                "the knowledge base has no answer: a rule or constraint rules out every decision"
            )
        for case, outcome in zip(cases, outcomes):
            _check(case, outcome)
        return outcomes


def _check(case: Case, outcome: Outcome) -> None:
    faults = list(outcome.faults)
    if len(outcome.decisions) != 1 and not any(f.startswith("decisions(") for f in faults):
        faults.append(f"decisions({len(outcome.decisions)})")
    if faults:
        raise KnowledgeBaseError(
            f"the knowledge base is unsound for case {case.id}: " + ", ".join(sorted(faults)),
            ["kb_fault: unjudged(Id) = a leaf with no status rule; two_statuses(Id); decisions(N) = not exactly one decision"],
        )
