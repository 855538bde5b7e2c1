"""Whole-space impact of a rule change: which kinds of case decide differently.

`diff --exhaustive` needs no corpus. Both knowledge bases go into one clingo
program over the abstract input space (lemtrada_asp/analysis.py,
lemtrada_asp/space.py); clingo finds the abstract cases whose outcome -- the
decision, pend reason, failed or missing ids, authorised mg, exactly what a
corpus `diff` compares -- differs, and the cover loop describes them as a few
classes.

A class is described in the terms an analyst reads: inputs where the edited
criteria look at the case (dmt_history: natalizumab: effective or absent), and
the statuses of criteria the edit did not change (I4.b: met), plus the review
type. Each class comes with a witness: a case file (format v1) that `decide`
confirms under both KBs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..case.model import Case, validate_case
from ..engine.catalogue import criterion_sort_key
from ..engine.engine import Engine
from ..engine.knowledge import KnowledgeBase
from .program import REVIEW, Cube, Feature, KbSource, Program, outcome, read_source
from .space import Dim, Space, build_space
from .suite import observed


@dataclass
class ImpactClass:
    ident: str  # "C1", "C2", ...: what --classify names
    cube: Cube
    conditions: list[dict[str, Any]]  # {"feature", "kind", "values": [...], "text"}
    transitions: list[tuple[str, str]]
    witness: dict[str, Any]
    base: dict[str, Any]  # the witness's outcome under the base KB
    kb: dict[str, Any]  # ... under the edited KB
    confirmed: bool  # decide gave exactly these outcomes, and they differ

    def describe(self) -> str:
        return " AND ".join(c["text"] for c in self.conditions) or "every case"


@dataclass
class Impact:
    classes: list[ImpactClass]
    complete: bool  # every changed abstract case is in a class AND the space represents all the KBs read
    changed_criteria: list[str]  # nodes whose status function the edit changed
    abstract_cases: int  # size of the space
    dimensions: int
    seconds: float
    analysis: "ImpactAnalysis" = field(repr=False)
    incomplete: list[str] = field(default_factory=list)  # why the search is not exhaustive

    @property
    def soundness(self) -> "Impact":
        return self


class ImpactAnalysis:
    """Both KBs and the space, ground once; classes and the location of any case."""

    def __init__(self, base_dir: str | Path | None, kb_dir: str | Path | None):
        self.started = time.perf_counter()
        self.base = KnowledgeBase(base_dir)
        self.kb = KnowledgeBase(kb_dir)
        sources: list[KbSource] = [read_source(self.base), read_source(self.kb)]
        self.space: Space = build_space(sources[0].mentions | sources[1].mentions, self.base.catalogue.params)
        self.program = Program(sources, self.space)
        self.features: list[Feature] = []
        self.changed: list[str] = []
        self.classes: list[ImpactClass] = []

    def run(self, limit: int = 500) -> Impact:
        program = self.program
        consequences = program.brave()
        self.changed = sorted({a.arguments[0].string for a in consequences if a.name == "wb_stdiff"}, key=criterion_sort_key)
        reachable: dict[tuple[str, str], set[str]] = {}
        for atom in consequences:
            if atom.name == "wb_st":
                reachable.setdefault((atom.arguments[0].name, atom.arguments[1].string), set()).add(atom.arguments[2].name)
        nodes = sorted({n for _, n in reachable}, key=lambda n: (-n.count("."), criterion_sort_key(n)))
        unchanged = [n for n in nodes if n not in self.changed]
        # Inputs first, then statuses from the leaves up, the changed criteria under
        # both KBs, the review last: the cover drops features in this order, so a
        # class is described by the statuses of the criteria (those the edit changed,
        # before and after, and the others), which no equivalent rewrite of a rule
        # changes, rather than by the many input values that give them.
        changed = [n for n in nodes if n in self.changed]
        self.features = [
            *program.input_features(),
            *(program.status_feature(n, reachable[("a", n)]) for n in unchanged),
            *(_named(program.status_feature(n, reachable.get((p, n), {"none"}), prefix=p), f"{n} ({label})")
              for n in changed for p, label in (("a", "base"), ("b", "edited"))),
            program.review_feature(consequences),
        ]
        # one cover per transition: every class holds exactly one change of outcome
        changes = sorted((a for a in consequences if a.name == "wb_change"), key=_transition_order)
        engines = (Engine(self.base), Engine(self.kb))
        classes: list[ImpactClass] = []
        complete = True
        incomplete: list[str] = []
        for change in changes:
            target = program.literal(change)
            if target is None:
                continue
            cubes, covered = program.cover(target, self.features, limit=max(1, limit - len(classes)))
            if not covered:
                complete = False
                incomplete.append(f"the description of {_transition(change)} stopped at the class limit ({limit})")
            for cube in cubes:
                classes.append(self._class(cube, target, len(classes) + 1, engines))
            if len(classes) >= limit:
                break
        incomplete += self.space.incomplete
        self.classes = classes
        return Impact(classes, complete and self.space.complete, self.changed, self.space.size(), len(self.space.dims),
                      time.perf_counter() - self.started, self, incomplete)

    def _class(self, cube: Cube, target: int, number: int, engines: tuple[Engine, Engine]) -> ImpactClass:
        program = self.program
        by_name = {f.name: f for f in self.features}
        inside = [target, *program.outside(cube, by_name)]
        transitions = sorted(
            {(_label(a.arguments[0].name, a.arguments[1].name), _label(a.arguments[2].name, a.arguments[3].name))
             for a in program.brave(inside) if a.name == "wb_trans"}
        )
        model = program.pick(inside)
        assert model is not None, "a cube of the cover has a case"
        witness = self.space.witness(program.assignment(model), f"IMPACT-{number:03d}")
        base, kb = outcome(model, "a"), outcome(model, "b")
        confirmed = _confirm(witness, base, kb, engines)
        conditions = [self._condition(by_name[name], allowed) for name, allowed in _ordered(cube, self.features, self.base.catalogue)]
        return ImpactClass(f"C{number}", cube, conditions, transitions, witness, base, kb, confirmed)

    def _condition(self, feature: Feature, allowed: frozenset[str]) -> dict[str, Any]:
        values = [v for v in feature.values if v in allowed]
        if feature.kind == "input":
            text = f"{feature.name}: {describe_values(self.space.dim(feature.name), values)}"
        elif feature.kind == "review":
            text = " or ".join(values) + " review"
        else:
            shown = ["not evaluated" if v == "none" else v for v in values]
            text = f"{feature.name}: {_either(shown, ['not evaluated' if v == 'none' else v for v in feature.values])}"
        return {"feature": feature.name, "kind": feature.kind, "values": values, "text": text}

    def locate(self, case: Case, statuses: dict[str, str], review: str, edited: dict[str, str] | None = None) -> dict[str, str] | None:
        """A concrete case's feature values, or None when it lies outside the space.

        statuses and review are the case's, as decided under the base KB
        (batch.Result.statuses, decision["review_type"]); edited, its statuses
        under the edited KB (default: the same).
        """
        assignment = self.space.locate(case)
        if assignment is None:
            return None
        edited = statuses if edited is None else edited
        values = {**assignment, REVIEW: review}
        for feature in self.features:
            if feature.kind != "status":
                continue
            node, _, label = feature.name.partition(" (")
            values[feature.name] = (edited if label == "edited)" else statuses).get(node, "none")
        return values


    def values_of(self, result, change) -> dict[str, str] | None:
        """The feature values of a case decided under the base KB (batch.Result) with its change (or None)."""
        base_statuses = result.statuses or {}
        edited = dict(base_statuses)
        if change is not None:
            from .changes import NOT_EVALUATED

            for node, (_, after) in change.statuses.items():
                edited[node] = "none" if after == NOT_EVALUATED else after
        return self.locate(result.record.case, base_statuses, result.decision["review_type"], edited)

    def classify(self, paths: list[str], jobs: int = 1) -> list[dict[str, Any]]:
        """Each given case: its id, whether the edit changes it, and the class it falls in (None: none).

        A case of a shape the space does not enumerate (more list entries than
        it holds) is "outside": True, with class None. A changed case inside the
        space with no class would be a case the search missed; the caller reports it.
        """
        from .changes import compare_paths

        placed = []
        for result, change in compare_paths(paths, self.base.directory, self.kb.directory, jobs=jobs, every_status=True):
            if not result.ok:
                continue
            values = self.values_of(result, change)
            found = None
            if values is not None and change is not None:
                transition = (_label(change.base["decision"], change.base["pend_reason"] or "none"),
                              _label(change.kb["decision"], change.kb["pend_reason"] or "none"))
                for cls in self.classes:
                    if transition in cls.transitions and cls.cube.contains(values):
                        found = cls.ident
                        break
            placed.append({"case_id": result.decision["case_id"], "source": result.source, "changed": change is not None,
                           "class": found, "outside": values is None})
        return placed


def _named(feature: Feature, name: str) -> Feature:
    return Feature(name, feature.kind, feature.values, feature.literals)


def _transition(change) -> str:
    a = change.arguments
    return f"{_label(a[0].name, a[1].name)} -> {_label(a[2].name, a[3].name)}"


def _transition_order(change) -> tuple:
    return tuple(str(x) for x in change.arguments)


def exhaustive_impact(base_dir: str | Path | None, kb_dir: str | Path | None, limit: int = 500) -> Impact:
    return ImpactAnalysis(base_dir, kb_dir).run(limit=limit)


def _confirm(witness: dict, base: dict, kb: dict, engines: tuple[Engine, Engine]) -> bool:
    case = validate_case(witness, witness["id"])
    decided = [observed(engine.decide([(witness["id"], case)])[0].to_json()) for engine in engines]
    for got in decided:
        got["failed"], got["missing"] = sorted(got["failed"]), sorted(got["missing"])
    return decided[0] == base and decided[1] == kb and base != kb


def _label(decision: str, reason: str) -> str:
    return decision if reason == "none" else f"{decision} ({reason})"


def _ordered(cube: Cube, features: list[Feature], catalogue) -> list[tuple[str, frozenset[str]]]:
    """Review first, then inputs, then statuses in the policy's order: how a person reads a case."""
    kinds = {"review": 0, "input": 1, "status": 2}
    index = {f.name: i for i, f in enumerate(features)}
    kind = {f.name: f.kind for f in features}

    def key(item: tuple[str, frozenset[str]]) -> tuple:
        name = item[0]
        if kind[name] == "status":
            top = name.split(" (")[0].split(".")[0]
            return (kinds["status"], catalogue.info(top).order, criterion_sort_key(name.split(" (")[0]), name)
        return (kinds[kind[name]], index[name], ())

    return sorted(cube.allowed.items(), key=key)


def _either(values: list[str], everything: list[str]) -> str:
    others = [v for v in everything if v not in values]
    if len(values) > 2 and len(others) == 1:
        return f"anything but {others[0]}"
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def describe_values(dim: Dim, keys: list[str]) -> str:
    """A set of a dimension's values for a person: numbers as ranges, long sets by what they leave out."""
    if not dim.numeric:
        return _either(keys, [v.key for v in dim.values])
    numbered = [v for v in dim.values if v.number is not None]
    parts = [k for k in keys if all(k != v.key for v in numbered)]  # absent, none, fractional
    runs: list[tuple[int, int | None]] = []
    for position, value in enumerate(numbered):
        if value.key not in keys:
            continue
        upper = numbered[position + 1].number - 1 if position + 1 < len(numbered) else None
        if runs and runs[-1][1] is not None and runs[-1][1] + 1 == value.number:
            runs[-1] = (runs[-1][0], upper)
        else:
            runs.append((value.number, upper))
    texts = []
    for low, high in runs:
        if high is None:
            texts.append(f"{low} or more")
        elif low == high:
            texts.append(str(low))
        else:
            texts.append(f"{low} to {high}")
    unit = f" {dim.unit}" if dim.unit else ""
    return " or ".join([t + unit for t in texts] + parts)
