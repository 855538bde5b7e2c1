"""A test suite as one clingo program: the KB's statements (possibly rewritten) and every case.

Rule coverage (rulecov.py) and mutation testing (mutation.py) both need the KB's
rules as clingo.ast statements, changed through the AST API (a marker head, a
mutant guarded by an external atom), with the facts of every suite case added
through the backend, grounded once and solved. What this module reads back is
what a test expectation compares (suite.KEYS): decision, pend reason, failed and
missing ids, authorised mg (an expectation's other keys are checked on the full
decision, see mutation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import clingo
from clingo import Function, Number, String, Symbol
from clingo import ast

from ..engine.casemodel import load_case_model
from ..engine.errors import InputError, KnowledgeBaseError
from ..engine.knowledge import KnowledgeBase
from ..engine.loading import iter_items
from .suite import KEYS, expectation_for, load_expectation, mismatches

SHOW = "#show decision/3. #show failed/3. #show missing/2. #show granted/3. #show kb_fault/2. #show wb_fired/2."
_DROPPED = {ast.ASTType.ShowSignature, ast.ASTType.ShowTerm, ast.ASTType.ProjectAtom, ast.ASTType.ProjectSignature, ast.ASTType.Comment}


@dataclass
class SuiteCase:
    source: str
    case_id: str
    case: object
    expected: dict


def load_suite(paths: Iterable[str], kb: KnowledgeBase) -> list[SuiteCase]:
    """The valid cases of the paths that have an expectation beside them (others are not a test)."""
    model = load_case_model(kb.manifest.case_model, kb.directory)
    cases = []
    for item in iter_items(list(paths), model.validate):
        if item.error is not None:
            continue
        where = expectation_for(item.source)
        if where is None:
            continue
        try:
            expected = load_expectation(where)
        except InputError:
            continue
        cases.append(SuiteCase(item.source, model.case_id(item.case), item.case, expected))
    return cases


@dataclass
class Located:
    """A statement of the KB with the file (relative to the KB directory) it is written in."""

    statement: ast.AST
    file: str | None  # None for the engine's encodings
    line: int


def kb_statements(kb: KnowledgeBase) -> list[Located]:
    """Every statement of the decide program, pools undone, with its policy file and line."""
    kb.catalogue  # a KB that does not load fails here, with clingo's own message
    found: list[ast.AST] = []
    try:
        ast.parse_files([str(p) for p in kb.program_files("decide")], found.append)
    except RuntimeError as exc:  # pragma: no cover - the catalogue already failed
        raise KnowledgeBaseError(f"knowledge base {kb.root} does not parse: {exc}") from None
    root = kb.directory.resolve()
    located = []
    for statement in found:
        if statement.ast_type in _DROPPED:
            continue
        begin = statement.location.begin
        try:
            file = Path(begin.filename).resolve().relative_to(root).as_posix()
        except ValueError:
            file = None
        located.append(Located(statement, file, begin.line))
    return located


def atom(loc, name: str, *args: Symbol) -> ast.AST:
    return ast.SymbolicAtom(ast.Function(loc, name, [ast.SymbolicTerm(loc, a) for a in args], False))


def literal(loc, name: str, *args: Symbol, negated: bool = False) -> ast.AST:
    return ast.Literal(loc, ast.Sign.Negation if negated else ast.Sign.NoSign, atom(loc, name, *args))


def rule(loc, name: str, args: Sequence[Symbol], body: Sequence[ast.AST]) -> ast.AST:
    return ast.Rule(loc, literal(loc, name, *args), list(body))


def solve_suite(
    statements: Iterable[ast.AST],
    cases: Sequence[SuiteCase],
    kb: KnowledgeBase,
    externals: Sequence[Symbol] = (),
) -> "SuiteProgram":
    program = SuiteProgram(kb)
    program.build(statements, cases, externals)
    return program


class SuiteProgram:
    """The statements and the cases, ground once; `outcomes` solves under assumptions."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.messages: list[str] = []
        self.ctl = clingo.Control(["--models=1"], logger=lambda code, text: self.messages.append(text.strip()), message_limit=100)
        self.cases: list[SuiteCase] = []

    def build(self, statements: Iterable[ast.AST], cases: Sequence[SuiteCase], externals: Sequence[Symbol]) -> None:
        self.cases = list(cases)
        model = load_case_model(self.kb.manifest.case_model, self.kb.directory)
        with ast.ProgramBuilder(self.ctl) as builder:
            for statement in statements:
                builder.add(statement)
            ast.parse_string(SHOW, builder.add)
            # externals in the program (not the backend): the grounder must know they may be true,
            # or the rules they switch on are never instantiated
            for symbol in externals:
                ast.parse_string(f"#external {symbol}.", builder.add)
        with self.ctl.backend() as backend:
            for key, case in enumerate(self.cases):
                for symbol in model.symbols(key, case.case):
                    backend.add_rule([backend.add_atom(symbol)])
        try:
            self.ctl.ground([("base", [])])
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"the suite program does not ground: {exc}", self.messages) from None

    def solve(self, switched_on: Sequence[Symbol] = (), read: Callable[[Symbol], None] | None = None) -> list[dict] | None:
        """Per case, its comparable outcome (suite.observed's keys plus faults); None: no answer.

        switched_on: external atoms made true for this solve only.
        """
        for symbol in switched_on:
            self.ctl.assign_external(symbol, True)
        try:
            return self._solve(read)
        finally:
            for symbol in switched_on:
                self.ctl.assign_external(symbol, False)

    def _solve(self, read: Callable[[Symbol], None] | None) -> list[dict] | None:
        lits: list[int] = []
        outcomes = [{"decision": [], "pend_reason": None, "failed": [], "missing": [], "authorized_mg": None, "faults": []} for _ in self.cases]
        answered = False
        with self.ctl.solve(assumptions=lits, yield_=True) as handle:
            for model in handle:
                answered = True
                for symbol in model.symbols(shown=True):
                    name = symbol.name
                    if read is not None:
                        read(symbol)
                    args = symbol.arguments
                    if not args or args[0].type != clingo.SymbolType.Number:
                        continue
                    key = args[0].number
                    if not 0 <= key < len(outcomes):
                        continue
                    out = outcomes[key]
                    if name == "decision" and len(args) == 3:
                        out["decision"].append((args[1].name, args[2].name))
                    elif name == "failed" and len(args) == 3:
                        out["failed"].append(args[1].string)
                    elif name == "missing" and len(args) == 2:
                        out["missing"].append(args[1].string)
                    elif name == "granted" and len(args) == 3 and args[1].type == clingo.SymbolType.Function and args[1].name == "mg":
                        out["authorized_mg"] = args[2].number if args[2].type == clingo.SymbolType.Number else str(args[2])
                    elif name == "kb_fault" and len(args) == 2:
                        out["faults"].append(str(args[1]))
                break
        if not answered:
            return None
        for out in outcomes:
            decisions = out.pop("decision")
            if len(decisions) != 1:
                out["faults"].append(f"decisions({len(decisions)})")
                out["decision"] = None
            else:
                decision, reason = decisions[0]
                out["decision"], out["pend_reason"] = decision, None if reason == "none" else reason
        return outcomes


def failures(cases: Sequence[SuiteCase], outcomes: list[dict] | None) -> list[tuple[SuiteCase, list[str]]]:
    """The cases whose outcome does not meet their expectation, with what differs."""
    if outcomes is None:
        return [(c, ["no answer: the program has no model"]) for c in cases]
    found = []
    for case, out in zip(cases, outcomes):
        if out["faults"]:
            found.append((case, ["kb fault: " + ", ".join(sorted(out["faults"]))]))
            continue
        decision = {
            "decision": out["decision"],
            "pend_reason": out["pend_reason"],
            "failed": [{"id": i} for i in out["failed"]],
            "missing": [{"id": i} for i in out["missing"]],
            "authorized": {"mg": out["authorized_mg"]} if out["authorized_mg"] is not None else None,
        }
        # the keys this program reads off clingo; the others (advisories, corrections, because, ...)
        # are checked on the full decision (mutation.py: survivors are decided again)
        lines = mismatches({k: v for k, v in case.expected.items() if k in KEYS}, decision)
        if lines:
            found.append((case, lines))
    return found


def marker_args(file: str, line: int) -> tuple[Symbol, Symbol]:
    return String(file), Number(line)


__all__ = ["SuiteCase", "load_suite", "kb_statements", "solve_suite", "failures", "Located", "Function"]
