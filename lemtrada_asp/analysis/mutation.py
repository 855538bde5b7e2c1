"""Mutation testing of a KB against its suite: which rule changes do the tests not notice?

A mutant is one small change of a leaf rule (a rule of the policy's criteria and
exclusion files) or of a parameter:

- flip a status: a finding's status met -> not_met, not_met -> met,
  undocumented -> not_met; an exclusion's rule is deleted (it stops applying);
- drop a body condition: one literal of the body left out (only when the rule
  stays safe);
- shift a parameter: param(Name, V) becomes V + 1, and V - 1.

Every mutant goes into ONE program with the original, through the clingo.ast
API: the original rule gets ``not wb_off(R)`` added to its body, each mutant of
it is its own rule with ``wb_mut(M)`` in its body, ``wb_off(R) :- wb_mut(M)``,
and every ``wb_mut(M)`` is an external atom, false unless assumed. The suite's
cases are ground once, with all mutants; each mutant is then one solve under
the assumption ``wb_mut(M)``. A mutant is killed when some case's outcome no
longer meets its expectation (or the KB faults on it), and survives otherwise.

An expectation may name fields the suite program does not read off clingo
(advisories, corrections, because, ...: suite.py); each mutant that survives
the one program is then written into a KB copy and the cases with such
expectations are decided by the real engine and checked in full, so a
parameter that only the texts state (premedication_days in the advisory) is
killed by a case that expects the advisory.

A surviving mutant may be equivalent: no possible case tells it from the
original. `equivalence` checks this over the whole abstract space (a KB copy
with the mutant written in, against the original, as `diff --exhaustive`), so
a survivor is either reported as equivalent, or comes with a case that kills it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import clingo
from clingo import Function, Number, Symbol
from clingo import ast

from ..engine.errors import KnowledgeBaseError
from ..engine.knowledge import KnowledgeBase
from .suite import beyond_the_suite_program, mismatches, needs_corrections
from .suiteprog import Located, SuiteCase, failures, kb_statements, literal, solve_suite

FLIPS = {"met": "not_met", "not_met": "met", "undocumented": "not_met"}


@dataclass
class Mutant:
    ident: int
    file: str
    line: int
    kind: str  # "flip", "drop", "shift"
    change: str  # what it changed, for a person
    statements: list[ast.AST]  # the rules replacing the original (before guarding)
    target: int  # index of the original statement
    original: str = ""
    killed_by: list[str] = field(default_factory=list)  # case ids
    equivalent: bool | None = None  # None: not checked
    witness: dict | None = None  # a case that tells the mutant apart (from the whole space)
    witness_outcome: dict | None = None
    note: str | None = None  # why a survivor is not equivalent though no case's decision changes

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.ident, "where": self.where, "kind": self.kind, "change": self.change, "rule": self.original,
            "killed": bool(self.killed_by), "killed_by": self.killed_by[:3], "equivalent": self.equivalent,
            "witness": self.witness, "witness_outcome": self.witness_outcome, "note": self.note,
        }


@dataclass
class MutationReport:
    mutants: list[Mutant]
    cases: int
    seconds: float
    baseline_failures: int  # suite cases that fail on the unmutated KB (a mutation score needs 0)

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if not m.killed_by]

    @property
    def score(self) -> float:
        return 100.0 * (len(self.mutants) - len(self.survivors)) / len(self.mutants) if self.mutants else 100.0


# --- generating mutants ------------------------------------------------------------


def mutable(located: Located) -> bool:
    """A leaf rule: a rule of the policy's criteria or exclusion files, or a param fact."""
    if located.file is None or located.statement.ast_type != ast.ASTType.Rule:
        return False
    head = located.statement.head
    if _is_param(head) and not located.statement.body:
        return True
    return bool(located.statement.body) and (located.file.startswith("criteria/") or located.file == "exclusions.lp")


def _is_param(head: ast.AST) -> bool:
    return (head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom
            and head.atom.symbol.ast_type == ast.ASTType.Function and head.atom.symbol.name == "param"
            and len(head.atom.symbol.arguments) == 2)


def _finding_status(head: ast.AST) -> tuple[str, str] | None:
    """(criterion id text, status) of a finding/4 head with a constant status, else None."""
    if head.ast_type != ast.ASTType.Literal or head.atom.ast_type != ast.ASTType.SymbolicAtom:
        return None
    symbol = head.atom.symbol
    if symbol.ast_type != ast.ASTType.Function or symbol.name != "finding" or len(symbol.arguments) != 4:
        return None
    status = symbol.arguments[2]
    if status.ast_type == ast.ASTType.SymbolicTerm and status.symbol.type == clingo.SymbolType.Function:
        return str(symbol.arguments[1]), status.symbol.name
    return None


def _with_status(head: ast.AST, status: str) -> ast.AST:
    symbol = head.atom.symbol
    args = list(symbol.arguments)
    args[2] = ast.SymbolicTerm(args[2].location, Function(status))
    return head.update(atom=head.atom.update(symbol=symbol.update(arguments=args)))


def _safe(statement: ast.AST) -> bool:
    """Does clingo accept the rule? (Dropping a literal may leave a variable unbound.)"""
    ctl = clingo.Control(logger=lambda *_: None)
    try:
        with ast.ProgramBuilder(ctl) as builder:
            builder.add(statement)
        ctl.ground([("base", [])])
    except RuntimeError:
        return False
    return True


def generate(located: Sequence[Located]) -> list[Mutant]:
    mutants: list[Mutant] = []

    def add(index: int, kind: str, change: str, replacement: list[ast.AST]) -> None:
        item = located[index]
        mutants.append(Mutant(len(mutants) + 1, item.file or "?", item.line, kind, change, replacement, index,
                              " ".join(str(item.statement).split())))

    for index, item in enumerate(located):
        if not mutable(item):
            continue
        statement = item.statement
        head = statement.head
        if _is_param(head) and not statement.body:
            name, value = head.atom.symbol.arguments
            if value.ast_type == ast.ASTType.SymbolicTerm and value.symbol.type == clingo.SymbolType.Number:
                for delta in (1, -1):
                    shifted = ast.SymbolicTerm(value.location, Number(value.symbol.number + delta))
                    new = statement.update(head=head.update(atom=head.atom.update(symbol=head.atom.symbol.update(arguments=[name, shifted]))))
                    add(index, "shift", f"param({name}, {value.symbol.number}) -> {value.symbol.number + delta}", [new])
            continue
        status = _finding_status(head)
        if status is not None:
            ident, was = status
            if was == "applies":
                add(index, "flip", f"exclusion {ident}: rule deleted (never applies here)", [])
            elif was in FLIPS:
                add(index, "flip", f"{ident}: {was} -> {FLIPS[was]}", [statement.update(head=_with_status(head, FLIPS[was]))])
        for position, condition in enumerate(statement.body):
            body = [b for i, b in enumerate(statement.body) if i != position]
            if not body:
                continue
            new = statement.update(body=body)
            if all(_safe(plain) for plain in new.unpool()):
                add(index, "drop", f"condition dropped: {condition}", [new])
    return mutants


# --- the program of all mutants ------------------------------------------------------------


def program_statements(located: Sequence[Located], mutants: Sequence[Mutant]) -> tuple[list[ast.AST], list[Symbol]]:
    by_target: dict[int, list[Mutant]] = {}
    for mutant in mutants:
        by_target.setdefault(mutant.target, []).append(mutant)
    statements: list[ast.AST] = []
    externals: list[Symbol] = []
    for index, item in enumerate(located):
        statement = item.statement
        group = by_target.get(index)
        if not group:
            statements.append(statement)
            continue
        loc = statement.location
        off = Number(index)
        statements.append(statement.update(body=[*statement.body, literal(loc, "wb_off", off, negated=True)]))
        for mutant in group:
            switch = Number(mutant.ident)
            externals.append(Function("wb_mut", [switch]))
            statements.append(ast.Rule(loc, literal(loc, "wb_off", off), [literal(loc, "wb_mut", switch)]))
            for replacement in mutant.statements:
                statements.append(replacement.update(body=[*replacement.body, literal(loc, "wb_mut", switch)]))
    return statements, externals


def run_mutation(kb: KnowledgeBase, cases: Sequence[SuiteCase]) -> MutationReport:
    started = time.perf_counter()
    located = kb_statements(kb)
    mutants = generate(located)
    statements, externals = program_statements(located, mutants)
    program = solve_suite(statements, cases, kb, externals)
    baseline = failures(cases, program.solve())
    for mutant in mutants:
        failing = failures(cases, program.solve([Function("wb_mut", [Number(mutant.ident)])]))
        mutant.killed_by = [c.case_id for c, _ in failing]
    full = [c for c in cases if beyond_the_suite_program(c.expected)]
    if full:
        for mutant in mutants:
            if not mutant.killed_by:
                mutant.killed_by = _killed_in_full(kb, located, mutant, full)
    return MutationReport(mutants, len(cases), time.perf_counter() - started, len(baseline))


def _killed_in_full(kb: KnowledgeBase, located: Sequence[Located], mutant: Mutant, cases: Sequence[SuiteCase]) -> list[str]:
    """The cases whose full expectation (advisories, corrections, because, ...) the mutant breaks, decided by the engine."""
    from ..engine.policy import Policy

    corrections = any(needs_corrections(c.expected) for c in cases)
    with tempfile.TemporaryDirectory(prefix="wb-mutant-") as scratch:
        copy = Path(scratch) / "kb"
        shutil.copytree(kb.directory, copy)
        _write_mutant(copy, located[mutant.target], mutant)
        try:
            decided = list(Policy.load(copy).decide_many([c.case for c in cases], corrections=corrections))
        except KnowledgeBaseError:
            return [c.case_id for c in cases]  # the mutant breaks the KB: every case notices
    killed = []
    for case, record in zip(cases, decided):
        if not hasattr(record, "to_json") or mismatches(case.expected, record.to_json()):
            killed.append(case.case_id)
    return killed


def text_parameters(kb: KnowledgeBase) -> set[str]:
    """Parameters a text states ({name} in the KB's texts, p.name in the letters' member wording)."""
    from ..engine.catalogue import _PLACEHOLDER
    from .program import read_source

    names: set[str] = set()
    for fact in read_source(kb).facts:
        for arg in fact.arguments:
            if arg.type == clingo.SymbolType.String:
                for match in _PLACEHOLDER.finditer(arg.string):
                    names.update(match.group(1).split("*"))
    wording = Path(__file__).resolve().parent.parent / "render" / "templates" / "member_wording.yaml"
    if wording.is_file():
        text = wording.read_text(encoding="utf-8")
        names.update(n for n in kb.catalogue.params if f"p.{n}" in text)
    return names


# --- equivalence over the whole space ---------------------------------------------------------


def equivalence(kb: KnowledgeBase, report: MutationReport, limit: int = 40) -> None:
    """For each survivor (up to limit): equivalent over every possible case, or a witness that kills it."""
    from .impact import exhaustive_impact

    located = kb_statements(kb)
    stated = text_parameters(kb)
    for mutant in report.survivors[:limit]:
        with tempfile.TemporaryDirectory(prefix="wb-mutant-") as scratch:
            copy = Path(scratch) / "kb"
            shutil.copytree(kb.directory, copy)
            _write_mutant(copy, located[mutant.target], mutant)
            impact = exhaustive_impact(kb.directory, copy, limit=3)
        mutant.equivalent = not impact.classes and impact.soundness.complete
        param = _shifted(mutant)
        if mutant.equivalent and param in stated:
            # no decision changes, but what approvals and letters say does: never "equivalent"
            mutant.equivalent = False
            mutant.note = (f"no decision changes, but every text that states {param} does (advisories, titles, letters): "
                           "a case whose expected file names the advisories kills it")
        if impact.classes:
            first = impact.classes[0]
            mutant.witness = first.witness
            mutant.witness_outcome = {"original": first.base, "mutant": first.kb}


def _shifted(mutant: Mutant) -> str | None:
    """The parameter a shift mutant changes."""
    if mutant.kind != "shift":
        return None
    return mutant.change.split("(", 1)[1].split(",", 1)[0].strip()


def _write_mutant(directory: Path, item: Located, mutant: Mutant) -> None:
    """Write the mutant into a KB copy: the original statement's text replaced (KB text, never case input)."""
    path = directory / item.file
    lines = path.read_text(encoding="utf-8").split("\n")
    loc = item.statement.location
    begin, end = loc.begin, loc.end
    before = lines[begin.line - 1][: begin.column - 1]
    after = lines[end.line - 1][end.column - 1:]
    text = " ".join(str(s) for s in mutant.statements)
    lines[begin.line - 1: end.line] = [before + text + after]
    path.write_text("\n".join(lines), encoding="utf-8")


def as_text(report: MutationReport) -> str:
    lines = [f"Mutation testing: {len(report.mutants)} mutants of the leaf rules and parameters, {report.cases} cases, "
             f"{report.seconds:.1f} s",
             f"Killed {len(report.mutants) - len(report.survivors)}, survived {len(report.survivors)} "
             f"(mutation score {report.score:.1f}%)"]
    if report.baseline_failures:
        lines.append(f"warning: {report.baseline_failures} case(s) fail on the unmutated KB; fix them first")
    for mutant in report.survivors:
        lines.append(f"SURVIVED {mutant.where} [{mutant.kind}] {mutant.change}")
        lines.append(f"     rule: {mutant.original}")
        if mutant.equivalent:
            lines.append("     equivalent: no possible case decides differently (it cannot be killed)")
        elif mutant.note:
            lines.append(f"     not equivalent: {mutant.note}")
        elif mutant.witness is not None:
            from ..render.text import outcome_label

            o = mutant.witness_outcome
            lines.append(f"     killed by a case like this one ({outcome_label(o['original'])} -> {outcome_label(o['mutant'])} under the mutant):")
            import json

            lines.append("     " + json.dumps(mutant.witness, ensure_ascii=False))
    return "\n".join(lines)
