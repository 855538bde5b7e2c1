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
    complete: bool
    changed_criteria: list[str]  # nodes whose status function the edit changed
    abstract_cases: int  # size of the space
    dimensions: int
    seconds: float
    analysis: "ImpactAnalysis" = field(repr=False)


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

    def run(self, limit: int = 500) -> Impact:
        program = self.program
        consequences = program.brave()
        self.changed = sorted({a.arguments[0].string for a in consequences if a.name == "wb_stdiff"}, key=criterion_sort_key)
        reachable: dict[str, set[str]] = {}
        for atom in consequences:
            if atom.name == "wb_st":
                reachable.setdefault(atom.arguments[1].string, set()).add(atom.arguments[2].name)
        unchanged = [n for n in reachable if n not in self.changed]
        # Inputs first, then statuses from the leaves up, the review last: the cover
        # drops features in this order, so what is left is the most general.
        unchanged.sort(key=lambda n: (-n.count("."), criterion_sort_key(n)))
        self.features = [
            *program.input_features(),
            *(program.status_feature(n, reachable[n]) for n in unchanged),
            program.review_feature(consequences),
        ]
        target = program.target("wb_differs")
        cubes, complete = program.cover(target, self.features, limit=limit) if target is not None else ([], True)
        engines = (Engine(self.base), Engine(self.kb))
        classes = [self._class(cube, target, n, engines) for n, cube in enumerate(cubes, start=1)]
        return Impact(classes, complete, self.changed, self.space.size(), len(self.space.dims), time.perf_counter() - self.started, self)

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
        return ImpactClass(cube, conditions, transitions, witness, base, kb, confirmed)

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

    def locate(self, case: Case, statuses: dict[str, str], review: str) -> dict[str, str] | None:
        """A concrete case's feature values, or None when it lies outside the space.

        statuses and review are the case's, as decided under the base KB
        (batch.Result.statuses, decision["review_type"]).
        """
        assignment = self.space.locate(case)
        if assignment is None:
            return None
        nodes = {f.name for f in self.features if f.kind == "status"}
        return {**assignment, **{n: statuses.get(n, "none") for n in nodes}, REVIEW: review}


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
            top = name.split(".")[0]
            return (kinds["status"], catalogue.info(top).order, criterion_sort_key(name))
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
