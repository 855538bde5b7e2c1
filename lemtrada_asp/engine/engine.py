"""Decide cases with clingo: the KB plus the facts of many cases, one ground program.

Every case predicate is keyed by a case number, so a chunk of cases is decided by
one load, one ground and one solve; per-case work is only building facts and
reading atoms back. One case decides the same alone or in any chunk, because no
rule relates two keys. What clingo derived becomes a frozen ``Decision`` here, once,
with the corrections when they were asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

from clingo import Symbol

from . import guard
from .atoms import plain, read
from .casemodel import CaseModel, load_case_model
from .catalogue import criterion_sort_key
from .errors import KnowledgeBaseError
from .knowledge import KnowledgeBase
from .record import Advisory, CriterionResult, Decision, Node, Reason

__all__ = ["CHUNK", "Engine"]

CHUNK = 200  # cases per ground program; measured by `python -m lemtrada_asp.bench`
# The program part (and shown name) that hands every finding to the cache; derive.py
# refuses a KB that uses the name itself.
COLLECTED = "_cached_finding"
COLLECT_FINDINGS = f"#show {COLLECTED}(K, Id, S, E) : finding(K, Id, S, E)."


@dataclass
class _Outcome:
    """The atoms clingo derived for one case, grouped by predicate (never leaves this module)."""

    decisions: list[tuple[str, str]] = field(default_factory=list)
    review: str | None = None
    attributes: list[tuple[str, Any]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    because: dict[str, list[Symbol]] = field(default_factory=dict)
    needs: dict[str, list[str]] = field(default_factory=dict)
    granted: list[tuple[str, Any]] = field(default_factory=list)
    advise: set[str] = field(default_factory=set)
    status: dict[str, str] = field(default_factory=dict)
    findings: dict[str, list[Symbol]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)

    def add(self, name: str, arguments: Sequence[Symbol]) -> None:
        """File one shown atom, given as its name and arguments (the case key first).

        The caller reads both from the symbol once: each read is a call into clingo,
        and reading atoms back is most of a chunk's Python time.
        """
        args = arguments[1:]
        if name == "decision":
            self.decisions.append((args[0].name, args[1].name))
        elif name == "review":
            self.review = args[0].name
        elif name == "case_attribute":
            self.attributes.append((args[0].name, plain(args[1])))
        elif name == "failed":
            self.failed[args[0].string] = args[1].name
        elif name == "missing":
            self.missing.add(args[0].string)
        elif name == "reason":
            self.reasons.setdefault(args[0].string, []).append(args[1].string)
        elif name == "because":
            self.because.setdefault(args[0].string, []).append(args[1])
        elif name == "needs":
            self.needs.setdefault(args[0].string, []).append(args[1].string)
        elif name == "granted":
            key = args[0]
            value = plain(args[1])
            if key.arguments:  # f(Code): an entry of list f
                self.granted.append((key.name, (plain(key.arguments[0]), value)))
            else:
                self.granted.append((key.name, value))
        elif name == "advise":
            self.advise.add(args[0].name)
        elif name == "status":
            self.status[args[0].string] = args[1].name
        elif name == "finding":
            self.findings.setdefault(args[0].string, []).append(args[2])
        elif name == "kb_fault":
            self.faults.append(str(args[0]))


class _Plan(NamedTuple):
    """A record's fields that an outcome's atoms settle without its evidence (Engine._plan)."""

    decision: str
    pend_reason: str | None
    review: str | None
    attributes: tuple
    failed: tuple  # per criterion: ((id, title, section, kind, status), its reasons as (id, title, status), needed)
    missing: tuple
    granted: tuple | None
    advisories: tuple


class Engine:
    """One loaded KB and its case model; decides chunks of validated cases."""

    def __init__(self, kb: KnowledgeBase | None = None, case_model: CaseModel | None = None):
        self.kb = kb or KnowledgeBase()
        self.catalogue = self.kb.catalogue  # loads and grounds once: a broken KB fails here
        self.case_model = case_model or load_case_model(self.kb.manifest.case_model, self.kb.directory)
        self.version = self.kb.version
        self._parameters = tuple(sorted(self.catalogue.params.items()))

    def decide(
        self, cases: Sequence[tuple[str, Any]], *, details: bool = False, corrections: bool = False
    ) -> list[Decision]:
        """Decide (source, case) pairs, in order, into frozen records.

        With details, each record also holds the whole evaluated tree (statuses and
        facts, for explain, letters, coverage and diff); without, only what the
        decision output needs, which is several times faster to read back.
        """
        if not cases:
            return []
        outcomes = self._solve([case for _, case in cases], details)
        sets: dict[int, Any] = {}
        if corrections:
            from .corrections import (
                corrector_for,  # only runs that ask for them load whatif.lp
            )

            wanted = [i for i, o in enumerate(outcomes) if self._needs_corrections(o)]
            found = corrector_for(self).corrections([cases[i][1] for i in wanted])
            sets = dict(zip(wanted, found))
        return [
            self._record(source, case, outcome, details, sets.get(i))
            for i, ((source, case), outcome) in enumerate(zip(cases, outcomes))
        ]

    def in_force(self, case: Any) -> bool:
        """Whether this KB is in force on a validated case's request date (criteria.md, "Policy in force").

        True when the KB declares no effective date, or its case model gives no request date.
        """
        effective = self.kb.manifest.effective
        request_date = getattr(self.case_model, "request_date", None)  # optional, as for policy versions
        if effective is None or case is None or request_date is None:
            return True
        return request_date(case) >= effective

    def _needs_corrections(self, outcome: _Outcome) -> bool:
        """Cases that did not reach a target of corrections (the policy's correction_target/2)."""
        return outcome.decisions[0] not in self.catalogue.targets

    def _solve(self, cases: Sequence[Any], details: bool, collect: list | None = None) -> list[_Outcome]:
        """The outcome of each case; with collect, also each case's shown atoms and every finding (cache.py).

        Collected atoms come as (name, arguments), findings as their arguments. The
        findings are shown for the cache by a term of their own (COLLECTED), so they
        come with the model, which is read once anyway: reading them through
        ``symbolic_atoms`` took several calls into clingo per atom.
        """
        # Two models asked for, so that a KB that is not deterministic is caught.
        ctl, messages = self.kb.control(["--models=2"])
        symbols = self.case_model.symbols
        with ctl.backend() as backend:
            for key, case in enumerate(cases):
                for symbol in symbols(key, case):
                    backend.add_rule([backend.add_atom(symbol)])
        parts = [("base", []), ("details", [])] if details else [("base", [])]
        if collect is not None:
            ctl.add(COLLECTED, [], COLLECT_FINDINGS)  # fixed text: nothing of a case is in it
            parts.append((COLLECTED, []))
        self.kb.ground(ctl, messages, parts)

        outcomes = [_Outcome() for _ in cases]
        models = 0
        with guard.running("solving the decision program"), ctl.solve(yield_=True) as handle:
            for model in handle:
                models += 1
                if models > 1:
                    raise KnowledgeBaseError(
                        "the knowledge base is not deterministic: it has more than one answer for a case"
                    )
                collecting = collect is not None and models == 1
                if collecting:
                    collect[:] = [([], []) for _ in cases]
                for atom in model.symbols(shown=True):
                    name, args = read(atom)
                    key = args[0].number
                    if name == COLLECTED:
                        if collecting:
                            collect[key][1].append(args)
                        continue
                    outcomes[key].add(name, args)
                    if collecting:
                        collect[key][0].append((name, args))
        if models == 0:
            raise KnowledgeBaseError(
                "the knowledge base has no answer: a rule or constraint rules out every decision"
            )
        for case, outcome in zip(cases, outcomes):
            self._check(case, outcome)
        return outcomes

    def _check(self, case: Any, outcome: _Outcome) -> None:
        faults = list(outcome.faults)
        if len(outcome.decisions) != 1 and not any(f.startswith("decisions(") for f in faults):
            faults.append(f"decisions({len(outcome.decisions)})")
        if faults:
            raise KnowledgeBaseError(
                f"the knowledge base is unsound for case {self.case_model.case_id(case)}: " + ", ".join(sorted(faults)),
                ["kb_fault: unjudged(Id) = a leaf with no status rule; two_statuses(Id); decisions(N) = not exactly one decision"],
            )

    # --- the record -------------------------------------------------------------------
    def _record(
        self, source: str, case: Any, o: _Outcome, details: bool, corrections: Any, plan: "_Plan | None" = None
    ) -> Decision:
        """The record of one case: its plan (``_plan``, or one the cache kept for o's atoms) with o's evidence."""
        p = self._plan(o) if plan is None else plan
        words = self.case_model.evidence
        because = o.because

        def reasons(specs: tuple[tuple[str, str, str], ...]) -> tuple[Reason, ...]:
            return tuple(
                Reason(ident, title, status, tuple(words(e, case) for e in because[ident]) if ident in because else ())
                for ident, title, status in specs
            )

        return Decision(
            case_id=self.case_model.case_id(case),
            source=source,
            decision=p.decision,
            pend_reason=p.pend_reason,
            review_type=p.review,
            attributes=p.attributes,
            failed=tuple(CriterionResult(*head, reasons(specs), need) for head, specs, need in p.failed),
            missing=tuple(CriterionResult(*head, reasons(specs), need) for head, specs, need in p.missing),
            authorized=p.granted,
            advisories=p.advisories,
            kb_version=self.version,
            guideline=self.catalogue.guideline,
            parameters=self._parameters,
            case=case,
            corrections=corrections,
            tree=self._tree(o, case) if details else None,
        )

    def _plan(self, o: _Outcome) -> "_Plan":
        """Everything of a record that o's atoms other than evidence (``because``, ``findings``) settle.

        The decision cache builds many outcomes on one template, whose atoms but the
        evidence are the same objects; it keeps the template's plan, so each case pays
        only for its evidence and its own fields.
        """
        info = self.catalogue.info

        def reason(ident: str) -> tuple[str, str, str]:
            return (ident, info(ident).title, o.status.get(ident, "unknown"))

        def branch(top: str) -> tuple[tuple[str, str, str], ...]:
            if not o.reasons.get(top):
                return (reason(top),)
            entries: list[tuple[str, str, str]] = []

            def walk(node: str) -> None:
                for child in sorted(o.reasons.get(node, []), key=criterion_sort_key):
                    entries.append(reason(child))
                    walk(child)

            walk(top)
            return tuple(entries)

        def needed(top: str) -> str:
            texts: list[str] = []
            for leaf in sorted(o.needs.get(top, []), key=criterion_sort_key):
                text = info(leaf).needed or f"documentation for {leaf}"
                if text not in texts:
                    texts.append(text)
            return "; ".join(texts)

        def result(ident: str, status: str, need: str | None = None) -> tuple:
            c = info(ident)
            return ((ident, c.title, c.section, c.kind, status), branch(ident), need)

        decision, reason_name = o.decisions[0]
        granted = None
        if decision == "approve":
            order = self.catalogue.grant_order
            granted = tuple(sorted(o.granted, key=lambda kv: (order.get(kv[0], 1000), kv[0], str(kv[1]))))
        return _Plan(
            decision=decision,
            pend_reason=None if reason_name == "none" else reason_name,
            review=o.review,
            attributes=tuple(sorted(o.attributes)),
            failed=tuple(result(i, o.failed[i]) for i in self.catalogue.in_policy_order(o.failed)),
            missing=tuple(result(i, "undocumented", needed(i)) for i in self.catalogue.in_policy_order(o.missing)),
            granted=granted,
            advisories=tuple(Advisory(i, t) for i, t in self.catalogue.advisories if i in o.advise),
        )

    def _tree(self, o: _Outcome, case: Any) -> tuple[Node, ...]:
        info = self.catalogue.info
        words = self.case_model.evidence

        def node(ident: str) -> Node:
            c = info(ident)
            status = o.status.get(ident, "unknown")
            if c.children:
                kids = tuple(node(k) for k in c.children if k in o.status)
                return Node(ident, c.title, c.kind, c.section, status, children=kids)
            facts = tuple(words(e, case) for e in o.findings.get(ident, ()))
            return Node(ident, c.title, c.kind, c.section, status, facts,
                        c.needed if status == "undocumented" else None)

        tops = [*self.catalogue.top.get(o.review or "", ()), *self.catalogue.exclusions()]
        return tuple(node(i) for i in tops if i in o.status)
