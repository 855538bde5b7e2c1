"""One clingo program: one or two knowledge bases over the whole abstract input space.

Questions about every possible case ("which cases does this edit change?", "can
an excluded case be approved?") are answered by letting clingo choose the
abstract case itself: a choice of one value per dimension of the space
(lemtrada_asp/space.py) gives the input facts of case key 0, and the KBs decide
it. Two KBs share one program by renaming: every predicate of KB A gets the
prefix ``a__``, of KB B ``b__``, except the case input predicates, which both
read. Grounded once; every question after that is a solve under assumptions.

Answers are sets of abstract cases, described as *cubes*: for each feature (an
input dimension, or the status of a criterion) a set of allowed values.
``cover`` finds a set of maximal cubes whose union is exactly the answer
(the classic expand-and-block loop of logic minimisation, with clingo as the
oracle): take a case in the answer not yet covered, widen its cube feature by
feature while every case in it stays in the answer, block it, repeat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import clingo
from clingo import Function, String, Symbol, ast

from ..engine.astwalk import children
from ..engine.errors import KnowledgeBaseError
from ..engine.knowledge import KnowledgeBase
from .space import ENUMERATED, INPUT_PREDICATES, K, Mentions, Space

PREFIXES = ("a", "b")
VIOLATED = "wb_violated"
REVIEW = "review"  # the feature naming the review type (initial / continuation) of KB A  # an integrity constraint of the KB, made visible instead of killing the case

# Fixed program text (no input, no value from a KB): what the analyses ask about.
_PER_KB = """
wb_node(T) :- {p}__node(T, _).
wb_top(T) :- {p}__top(_, T).
wb_top(T) :- {p}__node(T, exclusion).
wb_st({p}, T, S) :- {p}__status(0, T, S).
wb_eval({p}, T) :- {p}__status(0, T, _).
wb_st({p}, T, none) :- wb_node(T), not wb_eval({p}, T).
wb_out({p}, decision(D, R)) :- {p}__decision(0, D, R).
wb_out({p}, failed(I)) :- {p}__failed(0, I, _).
wb_out({p}, missing(I)) :- {p}__missing(0, I).
wb_out({p}, granted(F, V)) :- {p}__granted(0, F, V).
wb_out({p}, no_answer) :- {p}__wb_violated.
wb_fault({p}, F) :- {p}__kb_fault(0, F).
wb_fault({p}, no_answer) :- {p}__wb_violated.
wb_review({p}, R) :- {p}__review(0, R).
"""
# Properties of one KB: approvals despite an exclusion; per input value, whether
# it can be approved, excluded, or passes a criterion.
_PROPERTIES = """
wb_approved({p}) :- {p}__decision(0, approve, _).
wb_approved_excluded({p}) :- wb_approved({p}), {p}__status(0, E, applies).
wb_ok({p}, D, V, R) :- wb_val(D, V), wb_review({p}, R), wb_approved({p}).
wb_feasible({p}, D, V, R) :- wb_val(D, V), wb_review({p}, R).
wb_excluded({p}, D, V, R, E) :- wb_val(D, V), wb_review({p}, R), {p}__status(0, E, applies).
wb_passes({p}, D, V, R, T) :- wb_val(D, V), wb_review({p}, R), {p}__top(R, T), {p}__status(0, T, S), S != not_met.
"""
_BETWEEN = """
wb_differs :- wb_out(a, X), not wb_out(b, X).
wb_differs :- wb_out(b, X), not wb_out(a, X).
wb_stdiff(T) :- wb_st(a, T, S), not wb_st(b, T, S).
wb_stdiff(T) :- wb_st(b, T, S), not wb_st(a, T, S).
wb_trans(DA, RA, DB, RB) :- wb_out(a, decision(DA, RA)), wb_out(b, decision(DB, RB)).
wb_trans(no_answer, none, DB, RB) :- wb_out(a, no_answer), wb_out(b, decision(DB, RB)).
wb_trans(DA, RA, no_answer, none) :- wb_out(a, decision(DA, RA)), wb_out(b, no_answer).
wb_change(DA, RA, DB, RB) :- wb_differs, wb_trans(DA, RA, DB, RB).
"""
_SHOW = """
#show wb_val/2. #show wb_st/3. #show wb_out/2. #show wb_fault/2. #show wb_stdiff/1. #show wb_trans/4. #show wb_change/4.
#show wb_ok/4. #show wb_feasible/4. #show wb_excluded/5. #show wb_passes/5. #show wb_top/1. #show wb_node/1. #show wb_review/2.
"""


# --- reading a KB's source -----------------------------------------------------


@dataclass
class KbSource:
    """A KB as parsed statements, with where each fact is written and what it mentions."""

    kb: KnowledgeBase
    statements: list[ast.AST]
    facts: dict[Symbol, str]  # ground fact -> "file:line"
    mentions: Mentions

    def where(self, symbol: Symbol) -> str | None:
        return self.facts.get(symbol)


def read_source(kb: KnowledgeBase) -> KbSource:
    """Parse a KB (following #include). A KB that does not load raises KnowledgeBaseError."""
    kb.catalogue  # loads and grounds it first: clingo's own message, with file and line
    statements: list[ast.AST] = []
    try:
        kb.parse(statements.append)  # the composed program when the KB has overlays
    except RuntimeError as exc:  # pragma: no cover - catalogue above already failed
        raise KnowledgeBaseError(f"knowledge base {kb.root} does not parse: {exc}") from None
    facts: dict[Symbol, str] = {}
    mentions = Mentions()
    for statement in statements:
        if statement.ast_type != ast.ASTType.Rule:
            continue
        is_fact = len(statement.body) == 0
        if is_fact and statement.head.ast_type == ast.ASTType.Literal:
            for plain in statement.unpool():
                symbol = _ground(plain.head.atom.symbol) if plain.head.atom.ast_type == ast.ASTType.SymbolicAtom else None
                if symbol is not None:
                    begin = plain.location.begin
                    facts.setdefault(symbol, f"{begin.filename}:{begin.line}")
                    if symbol.name == "param" and len(symbol.arguments) == 2 and symbol.arguments[1].type == clingo.SymbolType.Number:
                        mentions.integers.add(symbol.arguments[1].number)
        _mentions(statement, mentions, is_fact)
    from ..case.schema import PREDICATES
    from .reads import analyse

    mentions.reads = analyse(statements, PREDICATES, ENUMERATED, facts)
    mentions.integers |= mentions.reads.compared  # data integers an input is compared with (limit(17), ...)
    return KbSource(kb, statements, facts, mentions)


def _numbers(symbol: Symbol) -> set[int]:
    if symbol.type == clingo.SymbolType.Number:
        return {symbol.number}
    if symbol.type == clingo.SymbolType.Function:
        return set().union(*(_numbers(a) for a in symbol.arguments)) if symbol.arguments else set()
    return set()


def _ground(term: ast.AST) -> Symbol | None:
    if term.ast_type == ast.ASTType.SymbolicTerm:
        return term.symbol
    if term.ast_type == ast.ASTType.Function:
        args = [_ground(a) for a in term.arguments]
        return None if any(a is None for a in args) else Function(term.name, args)
    return None


def _mentions(statement: ast.AST, into: Mentions, is_fact: bool) -> None:
    """Constants anywhere; strings in facts and bodies; integers compared with."""

    def symbols(sym: Symbol, compared: bool, strings: bool) -> None:
        if sym.type == clingo.SymbolType.Number and compared:
            into.integers.add(sym.number)
        elif sym.type == clingo.SymbolType.String and strings:
            into.strings.add(sym.string)
        elif sym.type == clingo.SymbolType.Function:
            if not sym.arguments:
                into.constants.add(sym.name)
            for arg in sym.arguments:
                symbols(arg, compared, strings)

    def walk(node: ast.AST, compared: bool, strings: bool) -> None:
        kind = node.ast_type
        if kind in (ast.ASTType.Comparison, ast.ASTType.Guard):
            compared = True
        if kind == ast.ASTType.SymbolicTerm:
            symbols(node.symbol, compared, strings)
        elif kind == ast.ASTType.Function and not node.arguments:
            into.constants.add(node.name)
        for child in children(node):
            walk(child, compared, strings)

    walk(statement.head, False, is_fact)
    for literal in statement.body:
        walk(literal, False, True)


class _Rename(ast.Transformer):
    """Prefix every predicate but the case inputs; constraints become a visible atom."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def _name(self, name: str) -> str:
        return name if name in INPUT_PREDICATES else f"{self.prefix}__{name}"

    def visit_SymbolicAtom(self, atom: ast.AST) -> ast.AST:
        symbol = atom.symbol
        if symbol.ast_type == ast.ASTType.Function:
            return atom.update(symbol=symbol.update(name=self._name(symbol.name)))
        if symbol.ast_type == ast.ASTType.UnaryOperation and symbol.argument.ast_type == ast.ASTType.Function:
            inner = symbol.argument
            return atom.update(symbol=symbol.update(argument=inner.update(name=self._name(inner.name))))
        return atom

    def visit_Defined(self, statement: ast.AST) -> ast.AST:
        return statement.update(name=self._name(statement.name))

    def visit_Rule(self, rule: ast.AST) -> ast.AST:
        rule = rule.update(**self.visit_children(rule))
        if rule.head.ast_type == ast.ASTType.Literal and rule.head.atom.ast_type == ast.ASTType.BooleanConstant and not rule.head.atom.value:
            loc = rule.location
            head = ast.Literal(loc, ast.Sign.NoSign, ast.SymbolicAtom(ast.Function(loc, f"{self.prefix}__{VIOLATED}", [], False)))
            rule = rule.update(head=head)
        return rule


_DROPPED = {ast.ASTType.ShowSignature, ast.ASTType.ShowTerm, ast.ASTType.ProjectAtom, ast.ASTType.ProjectSignature, ast.ASTType.Comment}


# --- the program ------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """Something a description can constrain: an input dimension or a criterion's status."""

    name: str
    kind: str  # "input", "status" (of a criterion under KB A) or "review" (KB A's review type)
    values: tuple[str, ...]
    literals: tuple[int | None, ...]  # per value; None when the program has no such atom

    def literal(self, value: str) -> int | None:
        return self.literals[self.values.index(value)]


@dataclass
class Cube:
    """Per constrained feature, the allowed values; every other feature is free."""

    allowed: dict[str, frozenset[str]] = field(default_factory=dict)

    def contains(self, values: dict[str, str]) -> bool:
        return all(values.get(name) in allowed for name, allowed in self.allowed.items())


class Solving:
    """A first model and the brave consequences of a ground program held in ``self.ctl``, under
    assumptions: what the analyses (Program) and the workflow's two-copy program (workflow/pair.py) ask."""

    ctl: clingo.Control

    def model(self, assumptions: Sequence[int]) -> set[Symbol] | None:
        with self.ctl.solve(assumptions=list(assumptions), yield_=True) as handle:
            for model in handle:
                return set(model.symbols(shown=True))
        return None

    def brave(self, assumptions: Sequence[int] = ()) -> set[Symbol]:
        """Every shown atom true in some answer under the assumptions (empty if none)."""
        config = self.ctl.configuration.solve
        config.enum_mode, config.models = "brave", "0"
        last: list[Symbol] = []
        try:
            with self.ctl.solve(assumptions=list(assumptions), yield_=True) as handle:
                for model in handle:
                    last = model.symbols(shown=True)
        finally:
            config.enum_mode, config.models = "auto", "1"
        return set(last)


class Program(Solving):
    def __init__(self, sources: Sequence[KbSource], space: Space, extra: Sequence[ast.AST] = (), extra_text: str = ""):
        """extra: statements over KB A's predicates (renamed with it), e.g. an analyst's properties;
        extra_text: fixed program text over the renamed predicates."""
        if not 1 <= len(sources) <= 2:
            raise ValueError("an analysis holds one or two knowledge bases")
        self.sources = list(sources)
        self.space = space
        self.prefixes = PREFIXES[: len(sources)]
        self.messages: list[str] = []
        self.ctl = clingo.Control(["--models=1"], logger=lambda code, text: self.messages.append(text.strip()), message_limit=100)
        with ast.ProgramBuilder(self.ctl) as builder:
            for prefix, source in zip(self.prefixes, self.sources):
                rename = _Rename(prefix)
                for statement in source.statements:
                    if statement.ast_type in _DROPPED:
                        continue
                    # pools first: p(a; b) is an atom pool the renaming could not see into
                    for plain in statement.unpool() if statement.ast_type == ast.ASTType.Rule else [statement]:
                        builder.add(rename(plain))
            ast.parse_string("#program base.", builder.add)  # the engine's show.lp ends in another part
            rename = _Rename(self.prefixes[0])
            for statement in extra:
                for plain in statement.unpool() if statement.ast_type == ast.ASTType.Rule else [statement]:
                    builder.add(rename(plain))
        text = "".join(_PER_KB.format(p=p) for p in self.prefixes) + extra_text
        text += _BETWEEN if len(sources) == 2 else _PROPERTIES.format(p="a")
        text += _SHOW
        self.ctl.add("base", [], text)
        self.values: dict[tuple[str, str], int] = {}
        with self.ctl.backend() as backend:
            backend.add_rule([backend.add_atom(Function("case", [K]))])
            for dim in space.dims:
                atoms = [backend.add_atom(Function("wb_val", [String(dim.name), String(v.key)])) for v in dim.values]
                backend.add_rule(atoms, [], choice=True)
                backend.add_rule([], [-a for a in atoms])
                backend.add_weight_rule([], 2, [(a, 1) for a in atoms])
                for atom, value in zip(atoms, dim.values):
                    self.values[(dim.name, value.key)] = atom
                    for fact in value.facts:
                        backend.add_rule([backend.add_atom(fact)], [atom])
            for first, second in space.conflicts:
                backend.add_rule([], [self.values[first], self.values[second]])
        try:
            self.ctl.ground([("base", [])])
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"the analysis program does not ground: {exc}", self.messages) from None

    # --- atoms and solving -----------------------------------------------------
    def literal(self, symbol: Symbol) -> int | None:
        atom = self.ctl.symbolic_atoms[symbol]
        return atom.literal if atom is not None else None

    def has_atom(self, name: str, arity: int) -> set[Symbol]:
        """The atoms of a (renamed) predicate in the ground program: all that any case could derive."""
        return {a.symbol for a in self.ctl.symbolic_atoms.by_signature(name, arity)}

    def satisfiable(self, assumptions: Sequence[int]) -> bool:
        return bool(self.ctl.solve(assumptions=list(assumptions)).satisfiable)

    def target(self, name: str, *args: Symbol) -> int | None:
        return self.literal(Function(name, list(args)))

    # --- features ---------------------------------------------------------------
    def input_features(self) -> list[Feature]:
        return [
            Feature(dim.name, "input", tuple(v.key for v in dim.values), tuple(self.values[(dim.name, v.key)] for v in dim.values))
            for dim in self.space.dims
        ]

    def status_feature(self, node: str, reachable: Iterable[str], prefix: str = "a") -> Feature:
        values = tuple(sorted(reachable, key=lambda v: (_STATUS_ORDER.index(v) if v in _STATUS_ORDER else len(_STATUS_ORDER), v)))
        return Feature(node, "status", values, tuple(self.literal(Function("wb_st", [Function(prefix), String(node), Function(v)])) for v in values))

    def review_feature(self, consequences: set[Symbol] | None = None, prefix: str = "a") -> Feature:
        consequences = self.brave() if consequences is None else consequences
        reviews = sorted(a.arguments[1].name for a in consequences if a.name == "wb_review" and a.arguments[0].name == prefix)
        return Feature(REVIEW, "review", tuple(reviews), tuple(self.literal(Function("wb_review", [Function(prefix), Function(r)])) for r in reviews))

    # --- cubes --------------------------------------------------------------------
    def outside(self, cube: Cube, features: dict[str, Feature]) -> list[int]:
        """Assumptions that keep a solve inside the cube."""
        literals = []
        for name, allowed in cube.allowed.items():
            feature = features[name]
            for value, literal in zip(feature.values, feature.literals):
                if value not in allowed and literal is not None:
                    literals.append(-literal)
        return literals

    def cover(self, target: int, features: Sequence[Feature], limit: int = 500) -> tuple[list[Cube], bool]:
        """Maximal cubes whose union is every abstract case where `target` holds.

        Returns the cubes and whether the cover is complete (False when `limit`
        cubes did not suffice). Each cube is prime (no feature can be widened
        without taking in a case outside the target), holds no value no case of
        it has, and is needed (the others do not cover it).
        """
        by_name = {f.name: f for f in features}
        cubes: list[tuple[Cube, int]] = []
        complete = False
        while len(cubes) < limit:
            seed = self.model([target, *(switch for _, switch in cubes)])
            if seed is None:
                complete = True
                break
            cube = self._expand(self._cube_of(seed, features), target, features, by_name)
            cube = self._tighten(cube, by_name)
            cubes.append((cube, self._block(cube, by_name)))
        kept = list(cubes)
        for entry in cubes:  # drop a cube the others already cover
            others = [switch for other, switch in kept if other is not entry[0]]
            if not self.satisfiable([target, *self.outside(entry[0], by_name), *others]):
                kept.remove(entry)
        return [cube for cube, _ in kept], complete
    def _cube_of(self, model: set[Symbol], features: Sequence[Feature]) -> Cube:
        values = self.feature_values(model)
        return Cube({feature.name: frozenset([values[feature.name]]) for feature in features})

    def feature_values(self, model: set[Symbol], prefix: str = "a") -> dict[str, str]:
        """Every feature's value in a model: inputs by dimension, statuses by node, the review."""
        values: dict[str, str] = {}
        for atom in model:
            if atom.name == "wb_val":
                values[atom.arguments[0].string] = atom.arguments[1].string
            elif atom.name == "wb_st":
                node, status = atom.arguments[1].string, atom.arguments[2].name
                if atom.arguments[0].name == prefix:
                    values[node] = status
                # a criterion the edit changed is a feature under each KB
                values[f"{node} ({'base' if atom.arguments[0].name == 'a' else 'edited'})"] = status
            elif atom.name == "wb_review" and atom.arguments[0].name == prefix:
                values[REVIEW] = atom.arguments[1].name
        return values

    def _inside(self, cube: Cube, target: int, by_name: dict[str, Feature]) -> bool:
        """Is every case of the cube a target case? (No case in it without the target.)"""
        return not self.satisfiable([-target, *self.outside(cube, by_name)])

    def _expand(self, cube: Cube, target: int, features: Sequence[Feature], by_name: dict[str, Feature]) -> Cube:
        for feature in features:  # first drop whole features, in the order given
            trial = Cube({k: v for k, v in cube.allowed.items() if k != feature.name})
            if self._inside(trial, target, by_name):
                cube = trial
        for feature in features:  # then widen those that remain, value by value
            if feature.name not in cube.allowed:
                continue
            for value in feature.values:
                if value in cube.allowed[feature.name]:
                    continue
                trial = Cube(dict(cube.allowed))
                trial.allowed[feature.name] = cube.allowed[feature.name] | {value}
                if self._inside(trial, target, by_name):
                    cube = trial
            if set(cube.allowed[feature.name]) >= {v for v, lit in zip(feature.values, feature.literals) if lit is not None}:
                del cube.allowed[feature.name]
        return cube

    def _tighten(self, cube: Cube, by_name: dict[str, Feature]) -> Cube:
        """Drop the values no case of the cube has (widening may take in impossible ones)."""
        for name in list(cube.allowed):
            kept = frozenset(v for v in cube.allowed[name] if self.satisfiable(self.outside(Cube({**cube.allowed, name: frozenset([v])}), by_name)))
            cube = Cube({**cube.allowed, name: kept})
        return cube

    def _block(self, cube: Cube, by_name: dict[str, Feature]) -> int:
        """Forbid the cube's cases while its switch (returned) is assumed true."""
        with self.ctl.backend() as backend:
            switch = backend.add_atom()
            backend.add_rule([switch], [], choice=True)
            body = [switch]
            for name, allowed in cube.allowed.items():
                inside = backend.add_atom()
                for value in allowed:
                    literal = by_name[name].literal(value)
                    if literal is not None:
                        backend.add_rule([inside], [literal])
                body.append(inside)
            backend.add_rule([], body)
        return switch

    # --- witnesses ---------------------------------------------------------------------
    def pick(self, assumptions: Sequence[int]) -> set[Symbol] | None:
        """A model under the assumptions, with as many inputs at their preferred value as fit."""
        chosen = list(assumptions)
        model = self.model(chosen)
        if model is None:
            return None
        # the number of prior courses first: it fixes the review, and the review the tidy dose
        for dim in sorted(self.space.dims, key=lambda d: d.name != "lemtrada_courses"):
            review = next((a.arguments[1].name for a in model if a.name == "wb_review" and a.arguments[0].name == "a"), None)
            for key in (*dim.preferred_by_review.get(review, ()), *dim.preferred):
                literal = self.values.get((dim.name, key))
                if literal is None:
                    continue
                better = self.model([*chosen, literal])
                if better is not None:
                    chosen.append(literal)
                    model = better
                    break
        return model

    def assignment(self, model: set[Symbol]) -> dict[str, str]:
        return {a.arguments[0].string: a.arguments[1].string for a in model if a.name == "wb_val"}

    def assume(self, assignment: dict[str, str]) -> list[int]:
        return [self.values[(name, key)] for name, key in assignment.items()]


_STATUS_ORDER = ("met", "undocumented", "not_met", "applies", "does_not_apply", "none")


def outcome(model: set[Symbol], prefix: str) -> dict:
    """The comparable outcome (as lemtrada_asp.suite.observed) of one KB in a model."""
    found = {"decision": None, "pend_reason": None, "failed": [], "missing": [], "authorized_mg": None}
    for atom in model:
        if atom.name != "wb_out" or atom.arguments[0].name != prefix:
            continue
        what = atom.arguments[1]
        if what.name == "decision":
            found["decision"] = what.arguments[0].name
            reason = what.arguments[1].name
            found["pend_reason"] = None if reason == "none" else reason
        elif what.name == "failed":
            found["failed"].append(what.arguments[0].string)
        elif what.name == "missing":
            found["missing"].append(what.arguments[0].string)
        elif what.name == "granted" and what.arguments[0].name == "mg":
            found["authorized_mg"] = what.arguments[1].number
        elif what.name == "no_answer":
            found["decision"] = "no_answer"
    found["failed"].sort()
    found["missing"].sort()
    return found
