"""The adaptive form (SDC ``$next-question``), its questions chosen by the solver.

``next_question(policy, case, answered)`` returns one question whose answer can
still change the decision, or None once no answer can: the decision is fixed.

*Fixed* means: every completion of the partial case -- each unanswered
question's field absent or given any value -- is decided alike (decision, pend
reason and what an approval grants). Completions are the abstract space's
values (analysis/space.py), which the KB cannot tell apart from any concrete
answer, so one solve over the two-copy program (pair.py) settles it: two
completions deciding differently, or none. A question *matters* when two
completions that differ only in its answer decide differently. If the decision
is not fixed some question matters (walk from one completion to the other one
question at a time: some step changes the decision), so the form never stops
early and never asks a question that cannot change anything.

Order: among the questions that matter, the first in this order --

1. the questions that decide which review applies (prior Lemtrada courses: found
   by the solver as the questions whose answer alone can change the review
   type), because the review decides which criteria are read at all: the step
   therapy history is never asked at continuation, the response never at an
   initial review;
2. then the Questionnaire's order, which follows the policy's: the form of MS
   before disease activity (asked only when it decides, i.e. SPMS), the
   specialty before the consultation (asked only when the specialty does not
   already settle I1).
"""

from __future__ import annotations

import threading
import weakref
from functools import cached_property
from typing import Any, Iterable

from ..analysis.program import KbSource, read_source
from ..analysis.space import Dim, Space, build_space
from ..engine.knowledge import KnowledgeBase
from .pair import Pair
from .questions import Openings, Ownership

__all__ = ["Workflow", "next_question", "workflow"]

GIVEN_KEPT = 8  # programs ground for cases outside the space, kept per KB


class Workflow:
    """One KB's workflow analyses: its space, who owns which input, the two-copy program."""

    def __init__(self, kb: KnowledgeBase, case_model: Any = None):
        self.kb = kb
        self.case_model = case_model
        self.source: KbSource = read_source(kb)
        self.space: Space = build_space(self.source.mentions, kb.catalogue.params)
        self.ownership = Ownership.of(self.space)
        self.lock = threading.Lock()  # one clingo Control is not for two threads at once
        self._given: dict[Any, Pair] = {}

    @cached_property
    def pair(self) -> Pair:
        return Pair(self.source, self.space, self.ownership.dims)

    @cached_property
    def order(self) -> tuple[str, ...]:
        """The questions in asking order: those that decide the review first, then the Questionnaire's."""
        pair = self.pair
        rdiff = pair.flag("wf_rdiff")
        first = []
        for q in self.ownership.questions:
            others = [d for d in self.ownership.owners if d not in self.ownership.dims[q]]
            if rdiff is not None and pair.model([rdiff, *pair.tied(others)]) is not None:
                first.append(q)
        return tuple(first) + tuple(q for q in self.ownership.questions if q not in first)

    # --- the form ----------------------------------------------------------------
    def openings(self, case: dict, answered: Iterable[str]) -> Openings:
        return Openings(self.space, self.ownership, self.case_model, case, answered)

    def program_for(self, openings: Openings) -> tuple[Pair, dict[str, tuple[str, ...]]]:
        """The program to ask, and the values each dimension keeps open in it."""
        given = openings.given()
        if given is None:
            return self.pair, openings.allowed
        value, names = given
        if any(q in openings.free for n in names for q in self.ownership.owners[n]):
            # a list the space cannot hold, shared with an open question: keep every value open (asks more, never less)
            return self.pair, {k: v for k, v in openings.allowed.items() if k not in names}
        key = value.facts
        pair = self._given.get(key)
        if pair is None:
            dims = [d for d in self.space.dims if d.name not in names] + [Dim("given", [value])]
            conflicts = [c for c in self.space.conflicts if c[0][0] not in names and c[1][0] not in names]
            space = Space(dims, conflicts, self.space.mentions, list(self.space.incomplete))
            ownership = {q: tuple(d for d in ds if d not in names) for q, ds in self.ownership.dims.items()}
            pair = Pair(self.source, space, ownership)
            if len(self._given) >= GIVEN_KEPT:
                self._given.pop(next(iter(self._given)))
            self._given[key] = pair
        return pair, {k: v for k, v in openings.allowed.items() if k not in names}

    def fixed(self, pair: Pair, allowed: dict[str, tuple[str, ...]]) -> bool:
        differ = pair.flag("wf_differ")
        return differ is None or pair.model([differ, *pair.within(allowed)]) is None

    def matters(self, pair: Pair, allowed: dict[str, tuple[str, ...]], question: str) -> bool:
        differ = pair.flag("wf_differ")
        if differ is None:
            return False
        mine = set(self.ownership.dims[question])
        others = [d.name for d in pair.space.dims if d.name not in mine]
        return pair.model([differ, *pair.within(allowed), *pair.tied(others)]) is not None

    def next_question(self, case: dict, answered: Iterable[str] = ()) -> str | None:
        openings = self.openings(case, answered)
        with self.lock:
            pair, allowed = self.program_for(openings)
            if self.fixed(pair, allowed):
                return None
            free = set(openings.free)
            for question in self.order:
                if question in free and self.matters(pair, allowed, question):
                    return question
        # Not fixed, yet no single open question matters: only possible when a dimension
        # changes with no open question (a fault of the ownership, proofs.py (c)). Never stop
        # early: ask the first open question.
        return next((q for q in self.order if q in free), None)


_CACHE: "weakref.WeakKeyDictionary[Any, Workflow]" = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def workflow(policy: Any) -> Workflow:
    """The workflow analyses of a loaded Policy (lemtrada_asp.engine.Policy), made once per policy."""
    with _CACHE_LOCK:
        found = _CACHE.get(policy)
        if found is None:
            found = _CACHE[policy] = Workflow(policy.kb, policy.engine.case_model)
        return found


def next_question(policy: Any, case: dict, answered: Iterable[str] = ()) -> str | None:
    """The linkId of one question whose answer can still change the decision; None once it is fixed.

    case: a case-format-v1 dict, possibly partial (the order's fields and the answers so far);
    answered: the linkIds already answered (an answered question absent from the case was
    left empty: its field is absent). A question is open when it is neither answered nor
    present in the case. An invalid case raises InputError.
    """
    return workflow(policy).next_question(case, answered)
