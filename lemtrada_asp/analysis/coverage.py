"""Rule coverage of a test suite: which statuses of which criteria the cases exercised.

A suite that never makes I3.b undocumented has not tested the rule that says
when it is. Counting, per criterion, sub-criterion and exclusion, how many cases
gave it each status shows the holes. Some statuses are impossible by the rules
(I0 is never not_met: an old chart leaves it undocumented); those come from the
whole-space analysis (lemtrada_asp/properties.py) and are marked as such rather
than reported as untested.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..engine.catalogue import Catalogue, criterion_sort_key

CRITERION_STATUSES = ("met", "not_met", "undocumented")
EXCLUSION_STATUSES = ("applies", "does_not_apply")
ALL_STATUSES = CRITERION_STATUSES + EXCLUSION_STATUSES


class Coverage:
    def __init__(self, catalogue: Catalogue, reachable: dict[str, set[str]] | None = None):
        self.catalogue = catalogue
        self.reachable = reachable  # None: not known, every status counts as possible
        self.counts: dict[str, Counter] = {}
        self.cases = 0

    def add(self, statuses: dict[str, str]) -> None:
        self.cases += 1
        for ident, status in statuses.items():
            self.counts.setdefault(ident, Counter())[status] += 1

    def nodes(self) -> list[str]:
        """Every criterion in reading order: each top-level one followed by its sub-criteria."""
        criteria = self.catalogue.criteria
        ordered: list[str] = []

        def walk(ident: str) -> None:
            if ident in ordered:
                return
            ordered.append(ident)
            for child in criteria[ident].children if ident in criteria else ():
                walk(child)

        for top in sorted(criteria.values(), key=lambda c: (c.order, criterion_sort_key(c.id))):
            if top.order < 1000:
                walk(top.id)
        for ident in sorted(set(criteria) | set(self.counts), key=criterion_sort_key):
            walk(ident)
        return ordered

    def possible(self, ident: str) -> tuple[str, ...]:
        kind = self.catalogue.info(ident).kind
        return EXCLUSION_STATUSES if kind == "exclusion" else CRITERION_STATUSES

    def report(self) -> dict[str, Any]:
        rows = []
        never: list[dict[str, str]] = []
        for ident in self.nodes():
            counts = self.counts.get(ident, Counter())
            impossible = [s for s in self.possible(ident) if self.reachable is not None and s not in self.reachable.get(ident, set())]
            unexercised = [s for s in self.possible(ident) if counts[s] == 0 and s not in impossible]
            rows.append({
                "id": ident,
                "kind": self.catalogue.info(ident).kind,
                "counts": {s: counts[s] for s in self.possible(ident)},
                "impossible": impossible,
                "never_exercised": unexercised,
            })
            never += [{"id": ident, "status": s} for s in unexercised]
        return {"cases": self.cases, "criteria": rows, "never_exercised": never}


def as_text(report: dict[str, Any]) -> str:
    """The coverage table: a count per status, '-' where the rules make a status impossible."""
    header = f"{'criterion':<10}" + "".join(f"{s:>16}" for s in ALL_STATUSES)
    lines = [f"Rule coverage over {report['cases']} case{'s' if report['cases'] != 1 else ''}", header]
    for row in report["criteria"]:
        cells = []
        for status in ALL_STATUSES:
            if status not in row["counts"]:
                cells.append("")
            elif status in row["impossible"]:
                cells.append("-")
            else:
                count = row["counts"][status]
                cells.append(str(count) if count else "0 !")
        lines.append(f"{row['id']:<10}" + "".join(f"{c:>16}" for c in cells))
    never = report["never_exercised"]
    if never:
        lines.append(f"Never exercised ({len(never)}): " + ", ".join(f"{n['id']} {n['status']}" for n in never))
    else:
        lines.append("Every possible status of every criterion was exercised.")
    lines.append("('-': impossible by the rules, over every possible case; '0 !': possible but never exercised)")
    return "\n".join(lines)
