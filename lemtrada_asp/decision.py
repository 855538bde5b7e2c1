"""A decision as the KB derived it, and its JSON form (../shared/spec/decision-format.md).

``Outcome`` holds the raw atoms of one case, grouped; ``Decision`` is what the
user sees. Building one from the other only looks things up in the catalogue: no
policy logic lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clingo import Symbol

from .evidence import describe
from .kbase import Catalogue, criterion_sort_key
from .model import Case


@dataclass
class Outcome:
    """The atoms clingo derived for one case, grouped by predicate."""

    decisions: list[tuple[str, str]] = field(default_factory=list)
    review: str | None = None
    course: int | None = None
    failed: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    because: dict[str, list[Symbol]] = field(default_factory=dict)
    needs: dict[str, list[str]] = field(default_factory=dict)
    authorized: tuple[int, int, int] | None = None
    billed: list[tuple[str, int]] = field(default_factory=list)
    advise: set[str] = field(default_factory=set)
    status: dict[str, str] = field(default_factory=dict)
    findings: dict[str, list[Symbol]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)

    def add(self, atom: Symbol) -> None:
        name, args = atom.name, atom.arguments[1:]
        if name == "decision":
            self.decisions.append((args[0].name, args[1].name))
        elif name == "review":
            self.review = args[0].name
        elif name == "course":
            self.course = args[0].number
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
        elif name == "authorized":
            self.authorized = (args[0].number, args[1].number, args[2].number)
        elif name == "billed":
            self.billed.append((args[0].string, args[1].number))
        elif name == "advise":
            self.advise.add(args[0].name)
        elif name == "status":
            self.status[args[0].string] = args[1].name
        elif name == "finding":
            self.findings.setdefault(args[0].string, []).append(args[2])
        elif name == "kb_fault":
            self.faults.append(str(args[0]))


@dataclass
class Decision:
    case: Case
    source: str
    outcome: Outcome
    catalogue: Catalogue
    kb_version: str
    # Minimal corrections (corrections.py), set only when they were computed:
    # a list of sets, each a list of {id, title, change, actionable}.
    corrections: list[list[dict[str, Any]]] | None = None

    @property
    def decision(self) -> str:
        return self.outcome.decisions[0][0]

    @property
    def pend_reason(self) -> str | None:
        reason = self.outcome.decisions[0][1]
        return None if reason == "none" else reason

    def failed_ids(self) -> list[str]:
        return self._in_policy_order(self.outcome.failed)

    def missing_ids(self) -> list[str]:
        return self._in_policy_order(self.outcome.missing)

    def _in_policy_order(self, ids) -> list[str]:
        return sorted(ids, key=lambda i: (self.catalogue.info(i).order, i))

    def reasons(self, top: str) -> list[dict[str, Any]]:
        """The minimal branch under `top`, depth first, down to the leaves."""
        if not self.outcome.reasons.get(top):
            return [self._reason(top)]
        entries: list[dict[str, Any]] = []

        def walk(node: str) -> None:
            for child in sorted(self.outcome.reasons.get(node, []), key=criterion_sort_key):
                entries.append(self._reason(child))
                walk(child)

        walk(top)
        return entries

    def _reason(self, ident: str) -> dict[str, Any]:
        return {
            "id": ident,
            "title": self.catalogue.info(ident).title,
            "status": self.outcome.status.get(ident, "unknown"),
            "because": [describe(e, self.case) for e in self.outcome.because.get(ident, [])],
        }

    def needed(self, top: str) -> str:
        leaves = sorted(self.outcome.needs.get(top, []), key=criterion_sort_key)
        texts: list[str] = []
        for leaf in leaves:
            text = self.catalogue.info(leaf).needed or f"documentation for {leaf}"
            if text not in texts:
                texts.append(text)
        return "; ".join(texts)

    def advisories(self) -> list[str]:
        return [text for ident, text in self.catalogue.advisories if ident in self.outcome.advise]

    def as_json(self) -> dict[str, Any]:
        info = self.catalogue.info
        authorized = None
        if self.outcome.authorized:
            per_day, days, mg = self.outcome.authorized
            authorized = {
                "mg": mg,
                "mg_per_day": per_day,
                "days": days,
                "hcpcs": [{"code": code, "units": units} for code, units in sorted(self.outcome.billed)],
            }
        data = {
            "case_id": self.case.id,
            "decision": self.decision,
            "pend_reason": self.pend_reason,
            "review_type": self.outcome.review,
            "course": self.outcome.course,
            "failed": [
                {
                    "id": i,
                    "title": info(i).title,
                    "status": self.outcome.failed[i],
                    "section": info(i).section,
                    "reasons": self.reasons(i),
                }
                for i in self.failed_ids()
            ],
            "missing": [
                {
                    "id": i,
                    "title": info(i).title,
                    "section": info(i).section,
                    "reasons": self.reasons(i),
                    "needed": self.needed(i),
                }
                for i in self.missing_ids()
            ],
            "authorized": authorized,
            "advisories": self.advisories(),
            "kb_version": self.kb_version,
            "source": self.source,
        }
        if self.corrections is not None:
            data["corrections"] = self.corrections
        return data
