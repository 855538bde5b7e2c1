"""Rule coverage, as OPA gives it: which rules of the policy's files fired on a suite.

Every rule with a body in the KB's own files (not the engine's encodings) gets a
twin through the clingo.ast API: the same body, with the head
``wb_fired(File, Line)``. The suite's cases are ground and solved once in one
program; a marker that holds means some case made the rule's body true. A
pooled rule (``finding(K, ("I3.a"; "I3.b"), ...)``) is one rule: it fired when
any of its pool fired. Beside the rules: which decisions and pend reasons the
suite reaches, against those some possible case reaches (the abstract space,
properties.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from clingo import Symbol
from clingo import ast

from ..engine.knowledge import KnowledgeBase
from .suiteprog import SuiteCase, failures, kb_statements, marker_args, rule, solve_suite

MARKER = "wb_fired"


@dataclass
class RuleCoverage:
    rules: dict[tuple[str, int], str]  # (file, line) -> the rule as clingo prints it
    fired: set[tuple[str, int]]
    cases: int
    decisions: dict[str, int] = field(default_factory=dict)  # "approve", "pend (information)" -> cases
    possible_decisions: list[str] | None = None  # reached by some possible case; None when not computed
    failing: int = 0  # suite cases whose outcome is not their expectation
    possible: set[tuple[str, int]] | None = None  # rules some possible case fires; None when not computed

    @property
    def firable(self) -> list[tuple[str, int]]:
        """The rules some case can fire (all of them when the whole space was not searched)."""
        return sorted(k for k in self.rules if self.possible is None or k in self.possible or k in self.fired)

    @property
    def percent(self) -> float:
        firable = self.firable
        return 100.0 * len(self.fired & set(firable)) / len(firable) if firable else 100.0

    def never(self) -> list[tuple[str, int]]:
        """Rules no test fired that some possible case would."""
        return [k for k in self.firable if k not in self.fired]

    def dead(self) -> list[tuple[str, int]]:
        """Rules no possible case fires (empty when the space was not searched)."""
        return sorted(k for k in self.rules if k not in self.firable)

    def as_json(self) -> dict[str, Any]:
        files: dict[str, dict[str, int]] = {}
        for (file, _line) in self.rules:
            entry = files.setdefault(file, {"rules": 0, "fired": 0})
            entry["rules"] += 1
        for (file, _line) in self.fired:
            files[file]["fired"] += 1
        return {
            "rules": len(self.rules),
            "fired": len(self.fired),
            "percent": round(self.percent, 1),
            "files": [{"file": f, **n} for f, n in sorted(files.items())],
            "firable": len(self.firable),
            "never_fired": [{"file": f, "line": n, "rule": self.rules[(f, n)]} for f, n in self.never()],
            "cannot_fire": [{"file": f, "line": n, "rule": self.rules[(f, n)]} for f, n in self.dead()],
            "decisions": self.decisions,
            "decisions_never_reached": [d for d in (self.possible_decisions or []) if d not in self.decisions],
        }


def instrument(kb: KnowledgeBase) -> tuple[list[ast.AST], dict[tuple[str, int], str]]:
    """The decide program's statements plus a marker twin of every policy rule with a body."""
    statements: list[ast.AST] = []
    rules: dict[tuple[str, int], str] = {}
    for located in kb_statements(kb):
        statement = located.statement
        statements.append(statement)
        if located.file is None or statement.ast_type != ast.ASTType.Rule or not statement.body:
            continue
        key = (located.file, located.line)
        rules.setdefault(key, " ".join(str(statement).split()))
        for plain in statement.unpool():
            statements.append(rule(plain.location, MARKER, marker_args(*key), plain.body))
    return statements, rules


def rule_coverage(kb: KnowledgeBase, cases: Sequence[SuiteCase], possible: list[str] | None = None,
                  possible_rules: set[tuple[str, int]] | None = None) -> RuleCoverage:
    statements, rules = instrument(kb)
    fired: set[tuple[str, int]] = set()

    def read(symbol: Symbol) -> None:
        if symbol.name == MARKER and len(symbol.arguments) == 2:
            fired.add((symbol.arguments[0].string, symbol.arguments[1].number))

    program = solve_suite(statements, cases, kb)
    outcomes = program.solve(read=read)
    decisions: dict[str, int] = {}
    for out in outcomes or []:
        if out["decision"] is not None:
            label = out["decision"] + (f" ({out['pend_reason']})" if out["pend_reason"] else "")
            decisions[label] = decisions.get(label, 0) + 1
    return RuleCoverage(rules, fired & set(rules), len(cases), decisions, possible, len(failures(cases, outcomes)), possible_rules)


def markers(kb: KnowledgeBase) -> list[ast.AST]:
    """Only the marker twins (for the whole-space program, which holds the KB itself)."""
    out = []
    for located in kb_statements(kb):
        statement = located.statement
        if located.file is None or statement.ast_type != ast.ASTType.Rule or not statement.body:
            continue
        for plain in statement.unpool():
            out.append(rule(plain.location, MARKER, marker_args(located.file, located.line), plain.body))
    return out


def whole_space(kb: KnowledgeBase) -> tuple[list[str], set[tuple[str, int]], list[str]]:
    """Over every possible case: the decisions reached, the rules that fire, and why the search is incomplete."""
    from .program import Program, read_source
    from .space import build_space

    source = read_source(kb)
    space = build_space(source.mentions, kb.catalogue.params)
    program = Program([source], space, extra=markers(kb), extra_text=f"#show a__{MARKER}/2.\n")
    consequences = program.brave()
    fired = {(a.arguments[0].string, a.arguments[1].number) for a in consequences if a.name == f"a__{MARKER}"}
    return possible_decisions(consequences), fired, space.incomplete


def possible_decisions(consequences: set[Symbol]) -> list[str]:
    """Decisions (with pend reason) some possible case reaches, from the one-KB program's brave consequences."""
    found = set()
    for atom in consequences:
        if atom.name == "wb_out" and atom.arguments[0].name == "a" and atom.arguments[1].name == "decision":
            decision, reason = atom.arguments[1].arguments
            found.add(decision.name + ("" if reason.name == "none" else f" ({reason.name})"))
    return sorted(found)


def as_text(report: RuleCoverage) -> str:
    firable = report.firable
    lines = [f"Rules fired over {report.cases} case{'s' if report.cases != 1 else ''}: "
             f"{len(report.fired & set(firable))} of the {len(firable)} that some case can fire ({report.percent:.1f}%)"
             + (f"; {len(report.rules) - len(firable)} more can fire on no case" if len(firable) < len(report.rules) else "")]
    data = report.as_json()
    width = max((len(f["file"]) for f in data["files"]), default=10)
    for entry in data["files"]:
        lines.append(f"  {entry['file']:<{width}}  {entry['fired']:>3}/{entry['rules']:<3}")
    never = report.never()
    if never:
        lines.append(f"Rules that never fired ({len(never)}):")
        lines += [f"  {f}:{n}: {report.rules[(f, n)]}" for f, n in never]
    else:
        lines.append("Every rule of the policy's files that some case can fire fired on a test.")
    dead = report.dead()
    if dead:
        lines.append(f"Rules no possible case fires ({len(dead)}; searched over the whole space):")
        lines += [f"  {f}:{n}: {report.rules[(f, n)]}" for f, n in dead]
    reached = ", ".join(f"{d} {n}" for d, n in sorted(report.decisions.items())) or "none"
    lines.append(f"Decisions reached: {reached}")
    if report.possible_decisions is not None:
        missing = [d for d in report.possible_decisions if d not in report.decisions]
        lines.append("Decisions some possible case reaches but no test does: " + (", ".join(missing) or "none"))
    return "\n".join(lines)
