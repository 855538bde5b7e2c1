"""Analyst-written properties: ASP constraints over a KB, proved over every possible case or refuted.

A property file holds clingo statements over the KB's own predicates, with
the case key as a variable (``K``) in every case predicate, exactly as the KB's
rules are written. Each property is one of:

- an integrity constraint, ``:- BODY.``: the property "no case has BODY"; its
  name is the comment line just above it (``% no approval while E4 applies``),
  else its line;
- a rule ``violated(NAME) :- BODY.``: the property NAME, violated by any case
  with BODY (several rules may share one NAME);
- any other rule: a helper, derived for each case like a rule of the KB.

The file is parsed with clingo.ast and put into the one-KB program over the
whole abstract space (program.py): clingo searches for a case that violates
each property. None: the property is proved (over the space; when the space is
INCOMPLETE for the KB, the proof says so). One: the property is refuted, with
a witness case that `decide` confirms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clingo import Function, String
from clingo import ast

from ..engine.errors import InputError, Problem
from .program import Program, _mentions
from .properties import KbAnalysis
from .space import Mentions, build_space

VIOLATED = "violated"
MARK = "wb_prop"


@dataclass
class Property:
    name: str
    where: str
    holds: bool
    complete: bool  # proved over a space that represents everything the KB reads
    witness: dict[str, Any] | None = None
    decided: dict[str, Any] | None = None  # decide's outcome on the witness
    summary: str = ""


def parse(path: Path) -> tuple[list[ast.AST], list[tuple[str, str]], Mentions]:
    """The file's statements (constraints turned into wb_prop(Name) rules), the properties (name, where), what it names."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), [Problem("", f"cannot read the property file: {exc}")]) from None
    lines = text.split("\n")
    parsed: list[ast.AST] = []
    messages: list[str] = []
    try:
        ast.parse_string(text, parsed.append, logger=lambda code, msg: messages.append(msg.strip()))
    except RuntimeError:
        raise InputError(str(path), [Problem("", "not a valid clingo program: " + "; ".join(messages))]) from None
    statements: list[ast.AST] = []
    properties: dict[str, str] = {}
    mentions = Mentions()
    for statement in parsed:
        if statement.ast_type in (ast.ASTType.Program, ast.ASTType.Comment):
            continue
        if statement.ast_type != ast.ASTType.Rule:
            raise InputError(str(path), [Problem(f"line {statement.location.begin.line}", "only rules and constraints are allowed in a property file")])
        _mentions(statement, mentions, False)
        line = statement.location.begin.line
        where = f"{path}:{line}"
        head = statement.head
        loc = statement.location
        if head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.BooleanConstant and not head.atom.value:
            above = lines[line - 2].strip() if line >= 2 else ""
            name = above.lstrip("%").strip() if above.startswith("%") else f"constraint at line {line}"
            properties.setdefault(name, where)
            term = ast.SymbolicTerm(loc, String(name))
            statement = statement.update(head=ast.Literal(loc, ast.Sign.NoSign, ast.SymbolicAtom(ast.Function(loc, MARK, [term], False))))
        elif (head.ast_type == ast.ASTType.Literal and head.atom.ast_type == ast.ASTType.SymbolicAtom
              and head.atom.symbol.ast_type == ast.ASTType.Function and head.atom.symbol.name == VIOLATED
              and len(head.atom.symbol.arguments) == 1):
            argument = head.atom.symbol.arguments[0]
            name = str(argument).strip('"')
            properties.setdefault(name, where)
            term = ast.SymbolicTerm(loc, String(name))
            statement = statement.update(head=head.update(atom=ast.SymbolicAtom(ast.Function(loc, MARK, [term], False))))
        statements.append(statement)
    if not properties:
        raise InputError(str(path), [Problem("", "the file states no property (an integrity constraint, or violated(Name) :- ...)")])
    return statements, list(properties.items()), mentions


def check_properties(path: Path, kb_dir: str | Path | None = None) -> list[Property]:
    from ..case.model import validate_case
    from ..engine.engine import Engine
    from .suite import observed

    statements, properties, mentions = parse(Path(path))
    analysis = KbAnalysis(kb_dir)
    # the file's own numbers (age 17) are cut points of the space too
    space = build_space(analysis.source.mentions | mentions, analysis.kb.catalogue.params)
    program = Program([analysis.source], space, extra=statements, extra_text=f"#show a__{MARK}/1.\n")
    engine = Engine(analysis.kb)
    results = []
    for name, where in properties:
        literal = program.literal(Function(f"a__{MARK}", [String(name)]))
        if literal is None or not program.satisfiable([literal]):
            results.append(Property(name, where, True, space.complete, summary="; ".join(space.incomplete)))
            continue
        model = program.pick([literal])
        assert model is not None
        case = space.witness(program.assignment(model), f"REFUTES-{len(results) + 1:03d}")
        decided = observed(engine.decide([(case["id"], validate_case(case, case["id"]))])[0].to_json())
        results.append(Property(name, where, False, space.complete, case, decided))
    return results


def as_text(results: list[Property]) -> str:
    import json

    from ..render.text import outcome_label

    lines = ["Analyst properties:"]
    for p in results:
        if p.holds:
            scope = "over every possible case" if p.complete else f"over the space searched, which is INCOMPLETE ({p.summary})"
            lines.append(f"  PROVED   {p.name} ({p.where}) {scope}")
        else:
            lines.append(f"  REFUTED  {p.name} ({p.where}): decide gives {outcome_label(p.decided)}"
                         + (f", failed {', '.join(p.decided['failed'])}" if p.decided['failed'] else "") + " on")
            lines.append("           " + json.dumps(p.witness, ensure_ascii=False))
    return "\n".join(lines)
