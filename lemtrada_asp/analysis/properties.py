"""Properties of one knowledge base over every possible case.

The same program as the impact analysis (lemtrada_asp/analysis.py), with one KB:

- reachable statuses: for each criterion, which statuses some case gives it
  (a criterion that can never be met makes its review unapprovable; one that
  can never fail is worth a look; `test --coverage` uses this to tell an
  unexercised status from an impossible one);
- approvals while an exclusion applies (must be none);
- faults: a case with no or two decisions, a leaf left without a status, two
  statuses for one node, a case the KB has no answer for -- each with a witness;
- gaps on numeric inputs: values between an exclusion's range and the
  approvable range of a review, which are neither excluded nor approvable
  (the age-17 gap between I2 and E6).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from clingo import Function, String, Symbol

from ..engine.catalogue import criterion_sort_key
from ..engine.knowledge import KnowledgeBase
from .impact import describe_values
from .program import KbSource, Program, read_source
from .space import Space, build_space


@dataclass
class Example:
    """An abstract case, as what sets it apart from a plain approvable case, and as a case file."""

    summary: str
    case: dict[str, Any]


@dataclass
class Gap:
    """An exclusion on a numeric input against one review's approvable range; `neither` is the gap."""

    dimension: str
    exclusion: str
    review: str
    excluded: str  # values, as ranges
    approvable: str
    neither: str
    failing: list[str]  # top-level criteria that fail for every case in `neither`
    witness: dict[str, Any] | None = None  # a case in the gap that fails only `failing` (decide denies it)


@dataclass
class Properties:
    reachable: dict[str, set[str]]
    never: list[tuple[str, str, str]]  # (node, status, severity: "problem" | "note")
    approved_excluded: list[Example]
    gaps: list[Gap]
    problems: int = 0


class KbAnalysis:
    """One KB over the whole abstract space, ground once."""

    def __init__(self, kb_dir: str | Path | None = None, kb: KnowledgeBase | None = None):
        self.kb = kb or KnowledgeBase(kb_dir)
        self.source: KbSource = read_source(self.kb)
        self.space: Space = build_space(self.source.mentions, self.kb.catalogue.params)
        self.program = Program([self.source], self.space)

    @cached_property
    def consequences(self) -> set[Symbol]:
        return self.program.brave()

    def reachable(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for atom in self.consequences:
            if atom.name == "wb_st" and atom.arguments[2].name != "none":
                found.setdefault(atom.arguments[1].string, set()).add(atom.arguments[2].name)
        return found

    # --- faults ------------------------------------------------------------------
    def faults(self) -> list[tuple[str, Example]]:
        """Each kind of fault some case causes: the cases that cause it, described, and one of them."""
        found = []
        features = self.program.input_features()
        by_name = {f.name: f for f in features}
        for atom in sorted((a for a in self.consequences if a.name == "wb_fault"), key=str):
            literal = self.program.literal(atom)
            cubes, complete = self.program.cover(literal, features, limit=3)
            described = " OR ".join(self.describe(cube) for cube in cubes) + ("" if complete else " OR ...")
            example = self.example([literal, *self.program.outside(cubes[0], by_name)], f"FAULT-{len(found) + 1:03d}")
            found.append((_fault_text(atom.arguments[1]), Example(described, example.case)))
        return found

    def describe(self, cube) -> str:
        parts = [f"{name}: {describe_values(self.space.dim(name), sorted(allowed, key=[v.key for v in self.space.dim(name).values].index))}"
                 for name, allowed in cube.allowed.items()]
        return " AND ".join(parts) or "any case"

    def example(self, assumptions: list[int], case_id: str) -> Example:
        model = self.program.pick(assumptions)
        assert model is not None, "brave consequences have a model"
        assignment = self.program.assignment(model)
        parts = []
        for dim in self.space.dims:
            key = assignment[dim.name]
            if key not in dim.preferred[:1]:
                parts.append(f"{dim.name}: {describe_values(dim, [key])}")
        return Example("; ".join(parts) or "a plain approvable case", self.space.witness(assignment, case_id))

    # --- properties --------------------------------------------------------------
    def properties(self) -> Properties:
        catalogue = self.kb.catalogue
        reachable = self.reachable()
        never: list[tuple[str, str, str]] = []
        for ident in sorted(reachable, key=criterion_sort_key):
            kind = catalogue.info(ident).kind
            got = reachable[ident]
            if kind == "exclusion":
                if "applies" not in got:
                    never.append((ident, "applies", "problem"))
                if "does_not_apply" not in got:
                    never.append((ident, "does_not_apply", "problem"))
                continue
            if "met" not in got:
                never.append((ident, "met", "problem"))
            if "not_met" not in got:
                never.append((ident, "not_met", "note"))
        approved_excluded = []
        target = self.program.target("wb_approved_excluded", Function("a"))
        if target is not None:
            features = self.program.input_features()
            cubes, _ = self.program.cover(target, features, limit=20)
            by_name = {f.name: f for f in features}
            for n, cube in enumerate(cubes, start=1):
                approved_excluded.append(self.example([target, *self.program.outside(cube, by_name)], f"APPROVED-EXCLUDED-{n:03d}"))
        gaps = self._gaps()
        problems = sum(1 for *_, severity in never if severity == "problem") + len(approved_excluded)
        return Properties(reachable, never, approved_excluded, gaps, problems)

    def _gaps(self) -> list[Gap]:
        ok: dict[tuple[str, str], set[str]] = {}
        excluded: dict[tuple[str, str, str], set[str]] = {}
        passes: dict[tuple[str, str, str], set[str]] = {}
        feasible: dict[tuple[str, str], set[str]] = {}
        for atom in self.consequences:
            args = atom.arguments
            if atom.name == "wb_feasible":
                feasible.setdefault((args[1].string, args[3].name), set()).add(args[2].string)
            elif atom.name == "wb_ok":
                ok.setdefault((args[1].string, args[3].name), set()).add(args[2].string)
            elif atom.name == "wb_excluded":
                excluded.setdefault((args[1].string, args[3].name, args[4].string), set()).add(args[2].string)
            elif atom.name == "wb_passes":
                passes.setdefault((args[1].string, args[3].name, args[4].string), set()).add(args[2].string)
        catalogue = self.kb.catalogue
        reviews = sorted(
            {a.arguments[1].name for a in self.consequences if a.name == "wb_review"},
            key=lambda r: (min((catalogue.info(t).order for t in catalogue.top.get(r, [])), default=1000), r),
        )
        tops = {r: sorted(self.kb.catalogue.top.get(r, []), key=criterion_sort_key) for r in reviews}
        gaps = []
        for dim in self.space.dims:
            if not dim.numeric:
                continue
            for review in reviews:
                numbers = [v.key for v in dim.values if v.number is not None and v.key in feasible.get((dim.name, review), set())]
                exclusions = sorted({e for (d, r, e) in excluded if d == dim.name and r == review}, key=criterion_sort_key)
                for exclusion in exclusions:
                    applies = excluded[(dim.name, review, exclusion)] & set(numbers)
                    if not applies or applies == set(numbers):
                        continue  # the exclusion does not depend on this input
                    approvable = ok.get((dim.name, review), set()) & set(numbers)
                    if not approvable:
                        continue  # nothing is approvable in this review at all
                    neither = [k for k in numbers if k not in applies and k not in approvable]
                    # only the values between the excluded range and the approvable range
                    low, high = max(numbers.index(k) for k in applies), min(numbers.index(k) for k in approvable)
                    between = [k for k in neither if low < numbers.index(k) < high] if low < high else []
                    # the criteria that fail at every value in the gap, though they pass where it is approvable
                    failing = [
                        t for t in tops[review]
                        if between and not passes.get((dim.name, review, t), set()) & set(between)
                        and passes.get((dim.name, review, t), set()) & approvable
                    ]
                    gaps.append(Gap(dim.name, exclusion, review, describe_values(dim, sorted(applies, key=numbers.index)),
                                    describe_values(dim, sorted(approvable, key=numbers.index)),
                                    describe_values(dim, between) if between else "", failing,
                                    self._gap_witness(dim.name, between[0], review, tops[review], failing, len(gaps) + 1) if between else None))
        return gaps


    def _gap_witness(self, dim: str, key: str, review: str, tops: list[str], failing: list[str], n: int) -> dict[str, Any] | None:
        """A case of the review at the gap's value that fails nothing but `failing`, and no exclusion applies."""
        program = self.program
        literals = [program.literal(Function("wb_review", [Function("a"), Function(review)])), program.values[(dim, key)]]
        for top in tops:
            if top in failing:
                continue
            for status in ("not_met", "undocumented"):
                literal = program.literal(Function("wb_st", [Function("a"), String(top), Function(status)]))
                if literal is not None:
                    literals.append(-literal)
        for ident, info in self.kb.catalogue.criteria.items():
            literal = program.literal(Function("wb_st", [Function("a"), String(ident), Function("applies")])) if info.kind == "exclusion" else None
            if literal is not None:
                literals.append(-literal)
        if any(l is None for l in literals) or not program.satisfiable(literals):
            return None
        return self.example(literals, f"GAP-{n:03d}").case


def _fault_text(fault: Symbol) -> str:
    if fault.name == "decisions":
        return f"a case gets {fault.arguments[0].number} decisions, not exactly one"
    if fault.name == "unjudged":
        return f"{fault.arguments[0]} gets no status (a leaf without a finding for the case, or a node whose children give none)"
    if fault.name == "two_statuses":
        return f"{fault.arguments[0].string} gets two statuses"
    if fault.name == "no_answer":
        return "an integrity constraint of the KB rules the case out: it gets no answer at all"
    return f"kb_fault {fault}"


