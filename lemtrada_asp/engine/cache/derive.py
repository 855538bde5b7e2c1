"""What a KB's decision depends on, derived from its rules: the ground for the decision cache.

The cache (cache.py) remembers what clingo derived and answers a case from memory
when every part of it was seen before. That is only sound if the parts are what
the rules say they are, so they are derived here from the parsed program
(clingo.ast), never listed by hand:

* which predicates are case input (keyed by the case key K, and derived by no rule);
* for each leaf (an id of ``finding/4``), the input predicates its findings read,
  through any helper predicates; leaves that read the same inputs form a group,
  whose findings are a function of the exact facts of those inputs;
* the input predicates the rest of the decision reads other than through the
  findings (the hooks: e.g. a course count, a member's state), so that every
  status, decision, grant, advisory and correction is a function of the
  findings' (id, status) pairs and those facts;
* the outputs that carry a finding's evidence term (explanations), and where the
  case key sits inside evidence terms, so cached evidence can be re-keyed;
* of a list input, the facts a data table ties to each leaf (selection.py), and
  what the parts above the leaves need (statuses, the shown predicates rules read),
  which parts.py proves on the ground program.

The derivation does not trust any node kind, hook or aggregate to be of a known
shape: it follows predicates. It refuses (``Derivation.vouched`` is False, with
the reason) whatever it cannot follow: a rule that relates two case keys or
derives a fact that is not keyed from case facts; a choice, disjunction,
optimisation, external, script, theory atom or external function in the decision
program; recursion through negation or an aggregate below the findings; a
predicate named like the engine's own show term (engine.COLLECTED); a leaf that
reads another leaf's finding; a criterion id that is neither
a constant nor a data fact; an output that pattern-matches evidence; the case key
anywhere but where a term can be re-keyed. A refused KB is decided on the plain
chunked path, with the same output, only slower.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable

import clingo
from clingo import ast as A
from clingo.ast import ASTType as T

from ..astwalk import walk
from ..engine import COLLECTED
from ..knowledge import KnowledgeBase
from ..atoms import id_text
from .selection import leaf_selections

__all__ = ["Derivation", "Group", "derive", "parse_program"]

Sig = tuple[str, int]
FINDING: Sig = ("finding", 4)
CASE: Sig = ("case", 1)
# Facts the corrector itself adds to the what-if program (corrections.py): not case input.
CORRECTOR_INPUTS = {("found", 3), ("found_set", 2), ("least", 2)}


class Refused(Exception):
    """The derivation cannot vouch for this KB; the message says why (and where)."""


@dataclass(frozen=True)
class Group:
    """Leaves whose findings read the same input predicates."""

    leaves: frozenset[str]
    reads: tuple[Sig, ...]
    # Inputs of which the leaves read only some facts (selection.py): (input, place, the values there).
    select: tuple[tuple[Sig, int, frozenset], ...] = ()


@dataclass
class Derivation:
    vouched: bool
    reason: str = ""
    inputs: frozenset[Sig] = frozenset()
    groups: tuple[Group, ...] = ()
    hooks: tuple[Sig, ...] = ()  # read by statuses, decision, grants, advisories, faults
    correction_hooks: tuple[Sig, ...] = ()  # read by the what-if of corrections
    # For the parts of the decision (parts.py): every status a finding rule can give (empty:
    # one is not a constant, and the decision stays one part), and the shown predicates rules read.
    statuses: tuple[str, ...] = ()
    interface: tuple[Sig, ...] = ()
    statements: tuple[Any, ...] = field(default=(), repr=False)  # the decision program as parsed, for parts.py
    carriers: dict[Sig, tuple[int, int]] = field(default_factory=dict)  # output -> (id position, evidence position)
    templates: dict[Sig, tuple[tuple[int, ...], ...]] = field(default_factory=dict)  # evidence shape -> key paths
    # Input arguments that every rule only joins with data: a value no data fact holds
    # there acts like any other such value (predicate -> position -> the values that matter).
    collapse: dict[str, dict[int, frozenset]] = field(default_factory=dict)

    def describe(self) -> list[str]:
        """Lines for check-kb and --verbose."""
        if not self.vouched:
            return [f"decision cache: off, the plain chunked path decides every case ({self.reason})"]
        sig = lambda s: f"{s[0]}/{s[1]}"  # noqa: E731
        lines = [f"decision cache: on; {len(self.groups)} leaf groups derived from the rules:"]
        for g in self.groups:
            reads = []
            for r in g.reads:
                picked = [(place, values) for q, place, values in g.select if q == r]
                reads.append(sig(r) + (
                    f" (only facts with {', '.join(sorted(map(str, picked[0][1]))) or 'no value'} in argument {picked[0][0] + 1})"
                    if picked else ""
                ))
            lines.append(f"  {', '.join(sorted(g.leaves))} <- {', '.join(reads) or '(no input)'}")
        lines.append(f"  statuses, decision, grants, advisories <- the findings' statuses and {', '.join(map(sig, self.hooks))}")
        lines.append(f"  corrections <- the findings' statuses and {', '.join(map(sig, self.correction_hooks))}")
        lines.append(f"  evidence carried by {', '.join(map(sig, sorted(self.carriers)))}")
        for name, positions in sorted(self.collapse.items()):
            for pos, kept in sorted(positions.items()):
                shown = ", ".join(sorted(map(str, kept))) or "none"
                lines.append(f"  {name} argument {pos + 1} only joins data: keyed exactly for {shown}, else as one value")
        return lines


# --- the parsed program -----------------------------------------------------------


@dataclass
class _Atom:
    sig: Sig
    args: list[Any]  # AST terms
    positive: bool
    role: str  # head | body


@dataclass
class _Rule:
    where: str
    heads: list[_Atom]
    body: list[_Atom]
    comparisons: list[tuple[Any, list[tuple[int, Any]]]]  # (term, guards)
    aggregates: list[tuple[int, Any, list[tuple[list[Any], list[_Atom]]]]]  # (function, guard var term, elements)
    show_term: bool = False
    constraint: bool = False
    text: str = ""
    nonmonotone: list[_Atom] = field(default_factory=list)  # body atoms inside an aggregate or a condition

    @cached_property
    def bindings(self) -> "_Bindings":
        """What _Analysis._env reads of the body, read from clingo's AST once (it runs to a fixpoint)."""
        atoms = [
            (a.sig, [(i, t.name if t.ast_type == T.Variable else None, _vars(t)) for i, t in enumerate(a.args)])
            for a in self.body if a.positive
        ]
        comparisons = []
        for term, guards in self.comparisons:
            sides = [term] + [g for _, g in guards]
            names = [_vars(side) for side in sides]
            comparisons.append([
                (side.name, set().union(*(n for j, n in enumerate(names) if j != i)))
                for i, side in enumerate(sides) if side.ast_type == T.Variable
            ])
        aggregates = []
        for function, guard, elements in self.aggregates:
            if guard is None or guard.term.ast_type != T.Variable:
                continue
            weights = set().union(*(_vars(t) for terms, _ in elements for t in terms[:1])) if elements else set()
            aggregates.append((function == A.AggregateFunction.Count, guard.term.name, weights))
        return _Bindings(atoms, comparisons, aggregates)


@dataclass
class _Bindings:
    atoms: list[tuple[Sig, list[tuple[int, str | None, set[str]]]]]  # positive body atoms: (place, variable or None, variables)
    comparisons: list[list[tuple[str, set[str]]]]  # per comparison: each variable side, and the other sides' variables
    aggregates: list[tuple[bool, str, set[str]]]  # (a count, its guard variable, the weights' variables)


def _where(node: Any) -> str:
    loc = node.location
    return f"{loc.begin.filename}:{loc.begin.line}"


def _vars(node: Any) -> set[str]:
    return {n.name for n in walk(node) if n.ast_type == T.Variable and n.name != "_"}


def _symbolic(term: Any, where: str) -> tuple[Sig, list[Any]]:
    """The signature and argument terms of an atom's term."""
    if term.ast_type == T.Function:
        if term.external:
            raise Refused(f"{where}: an external function @{term.name}")
        return (term.name, len(term.arguments)), list(term.arguments)
    if term.ast_type == T.SymbolicTerm and term.symbol.type == clingo.SymbolType.Function:
        return (term.symbol.name, len(term.symbol.arguments)), []
    if term.ast_type == T.UnaryOperation:  # classical negation -p(X)
        sig, args = _symbolic(term.argument, where)
        return ("-" + sig[0], sig[1]), args
    raise Refused(f"{where}: an atom of unexpected shape {term}")


def _check_terms(node: Any, where: str, text: str) -> None:
    """Refuse external functions and theory atoms; text is the statement as clingo prints it."""
    if "@" not in text and "&" not in text:
        return  # clingo prints an external function with @ and a theory atom with &: neither is here
    for n in walk(node):
        if n.ast_type == T.Function and n.external:
            raise Refused(f"{where}: an external function @{n.name}")
        if n.ast_type in (T.TheoryAtom, T.TheoryFunction):
            raise Refused(f"{where}: a theory atom")


class _Collect:
    def __init__(self, rule: _Rule):
        self.rule = rule

    def literal(self, lit: Any, into: list[_Atom]) -> None:
        where = self.rule.where
        if lit.ast_type == T.ConditionalLiteral:
            inner: list[_Atom] = []
            self.literal(lit.literal, inner)
            for c in lit.condition:
                self.literal(c, inner)
            into.extend(inner)
            self.rule.nonmonotone.extend(inner)
            return
        if lit.ast_type != T.Literal:
            raise Refused(f"{where}: a body element of kind {lit.ast_type.name}")
        atom = lit.atom
        kind = atom.ast_type
        if kind == T.SymbolicAtom:
            sig, args = _symbolic(atom.symbol, where)
            into.append(_Atom(sig, args, lit.sign == A.Sign.NoSign, "body"))
        elif kind == T.Comparison:
            self.rule.comparisons.append((atom.term, [(g.comparison, g.term) for g in atom.guards]))
        elif kind == T.BooleanConstant:
            pass
        elif kind in (T.BodyAggregate, T.Aggregate):
            elements = []
            for e in atom.elements:
                inner: list[_Atom] = []
                if e.ast_type == T.BodyAggregateElement:
                    for c in e.condition:
                        self.literal(c, inner)
                    terms = list(e.terms)
                else:  # ConditionalLiteral of a {...} aggregate
                    self.literal(e, inner)
                    terms = []
                into.extend(inner)
                self.rule.nonmonotone.extend(inner)
                elements.append((terms, inner))
            function = getattr(atom, "function", A.AggregateFunction.Count)
            guards = [g for g in (atom.left_guard, atom.right_guard) if g is not None]
            for g in guards:
                self.rule.aggregates.append((function, g, elements))
            if not guards:
                self.rule.aggregates.append((function, None, elements))
        else:
            raise Refused(f"{where}: a body atom of kind {kind.name}")


def _rules(statements: list[Any], program: str) -> tuple[list[_Rule], set[Sig]]:
    rules: list[_Rule] = []
    shown: set[Sig] = set()
    for statement in statements:
        for st in statement.unpool():
            kind = st.ast_type
            if kind in (T.Program, T.Comment, T.Defined, T.Definition):
                continue
            where = _where(st)
            text = str(st)
            _check_terms(st, where, text)
            if kind == T.ShowSignature:
                shown.add((st.name, st.arity))
                continue
            if kind == T.ShowTerm:
                rule = _Rule(where, [], [], [], [], show_term=True, text=text)
                sig, args = _symbolic(st.term, where)
                rule.heads.append(_Atom(sig, args, True, "head"))
                collect = _Collect(rule)
                for lit in st.body:
                    collect.literal(lit, rule.body)
                rules.append(rule)
                continue
            if kind == T.Minimize and program != "decide":
                rule = _Rule(where, [], [], [], [], constraint=True, text=text)
                collect = _Collect(rule)
                for lit in st.body:
                    collect.literal(lit, rule.body)
                rules.append(rule)
                continue
            if kind != T.Rule:
                raise Refused(f"{where}: a statement of kind {kind.name} ({text[:60]})")
            rule = _Rule(where, [], [], [], [], text=text)
            collect = _Collect(rule)
            head = st.head
            if head.ast_type == T.Literal and head.atom.ast_type == T.SymbolicAtom:
                sig, args = _symbolic(head.atom.symbol, where)
                if head.sign != A.Sign.NoSign:
                    raise Refused(f"{where}: a negated head")
                rule.heads.append(_Atom(sig, args, True, "head"))
            elif head.ast_type == T.Literal and head.atom.ast_type == T.BooleanConstant:
                rule.constraint = True
            elif head.ast_type in (T.Aggregate, T.Disjunction) and program != "decide":
                for element in head.elements:
                    lit = element.literal if element.ast_type == T.ConditionalLiteral else element
                    sig, args = _symbolic(lit.atom.symbol, where)
                    rule.heads.append(_Atom(sig, args, True, "head"))
                    for c in getattr(element, "condition", []):
                        collect.literal(c, rule.body)
            else:
                what = "choice" if head.ast_type == T.Aggregate else head.ast_type.name.lower()
                raise Refused(f"{where}: a {what} rule in the decision program ({text[:60]})")
            for lit in st.body:
                collect.literal(lit, rule.body)
            rules.append(rule)
    return rules, shown


# --- the analysis -----------------------------------------------------------------

CLEAN = "clean"
DIRTY = "dirty"


class _Analysis:
    def __init__(self, rules: list[_Rule], shown: set[Sig]):
        self.rules = rules
        self.shown = shown
        self.keyed = self._keyed()
        self.heads = {a.sig for r in rules for a in r.heads if not r.show_term}
        self.inputs = {s for s in self.keyed if s not in self.heads}
        self.keyvar = {id(r): self._keyvar(r) for r in rules}
        self.positions = self._positions()

    @staticmethod
    def _first(atom: _Atom) -> str | None:
        if atom.args and atom.args[0].ast_type == T.Variable:
            return atom.args[0].name
        return None

    def _keyed(self) -> set[Sig]:
        keyed = {CASE}
        changed = True
        while changed:
            changed = False
            for r in self.rules:
                atoms = r.heads + r.body
                keys = {self._first(a) for a in atoms if a.sig in keyed} - {None}
                for a in atoms:
                    if a.sig not in keyed and self._first(a) in keys:
                        keyed.add(a.sig)
                        changed = True
        return keyed

    def _keyvar(self, r: _Rule) -> str | None:
        keyed_atoms = [a for a in r.heads + r.body if a.sig in self.keyed]
        keys = {self._first(a) for a in keyed_atoms}
        if None in keys:
            raise Refused(f"{r.where}: a case predicate whose key is not a variable ({r.text[:70]})")
        if len(keys) > 1:
            raise Refused(f"{r.where}: a rule that relates two case keys ({r.text[:70]})")
        key = next(iter(keys), None)
        if key is not None and not r.constraint:
            for h in r.heads:
                if h.sig not in self.keyed:
                    raise Refused(f"{r.where}: {h.sig[0]}/{h.sig[1]} is derived from case facts but not keyed by the case ({r.text[:70]})")
        return key

    # Where the case key can sit in a value: never (clean), at known paths of a
    # function term (a template), or anywhere (dirty).
    def _positions(self) -> dict[tuple[Sig, int], Any]:
        pos: dict[tuple[Sig, int], Any] = {}
        changed = True
        while changed:
            changed = False
            for r in self.rules:
                key = self.keyvar[id(r)]
                if key is None:
                    continue
                env = self._env(r, key, pos)
                for h in r.heads:
                    for i, term in enumerate(h.args[1:], start=1):
                        value = self._template(term, key, env)
                        old = pos.get((h.sig, i), CLEAN)
                        new = _merge(old, value)
                        if new != old:
                            pos[(h.sig, i)] = new
                            changed = True
        return pos

    def _env(self, r: _Rule, key: str, pos: dict) -> dict[str, Any]:
        env: dict[str, Any] = {}
        b = r.bindings
        keyed = self.keyed
        for _ in range(4):  # bindings through comparisons and aggregates settle in a few passes
            for sig, args in b.atoms:
                is_keyed = sig in keyed
                for i, name, names in args[1:] if is_keyed else args:
                    value = pos.get((sig, i), CLEAN) if is_keyed else CLEAN
                    if name is not None:
                        if name != key:
                            env[name] = _merge(env.get(name, value), value) if name in env else value
                    else:
                        for v in names - {key}:
                            env.setdefault(v, CLEAN if value == CLEAN else DIRTY)
            for sides in b.comparisons:
                for name, others in sides:
                    if name not in env and key not in others and all(env.get(v) == CLEAN for v in others):
                        env[name] = CLEAN
            for count, name, weights in b.aggregates:
                if name in env:
                    continue
                if count or (key not in weights and all(env.get(v, CLEAN) == CLEAN for v in weights)):
                    env[name] = CLEAN
        return env

    def _template(self, term: Any, key: str, env: dict) -> Any:
        kind = term.ast_type
        if kind == T.SymbolicTerm:
            return CLEAN
        if kind == T.Variable:
            if term.name == key:
                return DIRTY
            return env.get(term.name, DIRTY)
        if kind == T.Function and term.arguments:
            paths: list[tuple[int, ...]] = []
            for i, arg in enumerate(term.arguments):
                if arg.ast_type == T.Variable and arg.name == key:
                    paths.append((i,))
                    continue
                inner = self._template(arg, key, env)
                if inner == CLEAN:
                    continue
                if inner == DIRTY or arg.ast_type != T.Function:
                    return DIRTY  # a keyed value of unknown shape inside a term
                for shape, sub in inner.items():
                    paths += [(i, *p) for p in sub]
            if not paths:
                return CLEAN
            return {(term.name, len(term.arguments)): tuple(paths)}
        if kind == T.Function:
            return CLEAN
        # arithmetic and intervals: numbers, clean when their variables are
        names = _vars(term)
        return CLEAN if key not in names and all(env.get(v) == CLEAN for v in names) else DIRTY

    # --- reading -------------------------------------------------------------------
    def reads(self, atoms: Iterable[_Atom], stop: set[Sig]) -> set[Sig]:
        """The input predicates (and any of stop) reached from atoms through derived keyed predicates."""
        found: set[Sig] = set()
        seen: set[Sig] = set()
        todo = [a.sig for a in atoms if a.sig in self.keyed]
        while todo:
            sig = todo.pop()
            if sig in seen:
                continue
            seen.add(sig)
            if sig in stop or sig in self.inputs:
                found.add(sig)
                continue
            for r in self.rules:
                if not r.show_term and any(h.sig == sig for h in r.heads):
                    todo += [a.sig for a in r.body if a.sig in self.keyed]
        return found

    def rules_of(self, sig: Sig) -> list[_Rule]:
        return [r for r in self.rules if not r.show_term and any(h.sig == sig for h in r.heads)]


def _merge(a: Any, b: Any) -> Any:
    if a == DIRTY or b == DIRTY:
        return DIRTY
    if a == CLEAN:
        return b
    if b == CLEAN:
        return a
    merged = dict(a)
    for shape, paths in b.items():
        if merged.get(shape, paths) != paths:
            return DIRTY
        merged[shape] = paths
    return merged


def _occurrences(rule: _Rule, name: str) -> int:
    count = 0
    for a in rule.heads + rule.body:
        for t in a.args:
            count += sum(1 for n in walk(t) if n.ast_type == T.Variable and n.name == name)
    for term, guards in rule.comparisons:
        for t in [term, *(g for _, g in guards)]:
            count += sum(1 for n in walk(t) if n.ast_type == T.Variable and n.name == name)
    for _, guard, elements in rule.aggregates:
        for terms, _ in elements:
            for t in terms:
                count += sum(1 for n in walk(t) if n.ast_type == T.Variable and n.name == name)
    return count


def parse_program(kb: KnowledgeBase, program: str) -> list[Any]:
    statements: list[Any] = []
    kb.parse(statements.append, program)  # with overlays: the composed program (overlay.py)
    return statements


def derive(kb: KnowledgeBase) -> Derivation:
    """The derivation for a KB, or a refusal saying why the cache cannot vouch for it."""
    try:
        return _derive(kb)
    except Refused as exc:
        return Derivation(False, str(exc))
    except RuntimeError as exc:  # clingo cannot parse it: the plain path reports that properly
        return Derivation(False, f"the program does not parse: {exc}")


def _derive(kb: KnowledgeBase) -> Derivation:
    statements = parse_program(kb, "decide")
    rules, shown = _rules(statements, "decide")
    _check_names(rules)
    _check_stratified(rules)
    an = _Analysis(rules, shown)
    if FINDING not in an.keyed:
        raise Refused("no keyed finding/4: nothing to cache")
    if FINDING in shown:
        raise Refused("finding/4 is shown as a whole")

    # Outputs that carry a finding's evidence; every other use of a finding reads only (id, status).
    carriers: dict[Sig, tuple[int, int]] = {}
    carrier_rules: set[int] = set()
    for r in rules:
        for a in r.body:
            if a.sig != FINDING:
                continue
            e = a.args[3]
            if e.ast_type == T.Variable and (e.name == "_" or _occurrences(r, e.name) == 1):
                continue
            if r.heads and r.heads[0].sig == FINDING and not r.show_term:
                raise Refused(f"{r.where}: a leaf reads another leaf's evidence")
            head = r.heads[0] if len(r.heads) == 1 else None
            ident = a.args[1]
            if (
                e.ast_type != T.Variable or not a.positive or head is None or ident.ast_type != T.Variable
                or not all(t.ast_type == T.Variable for t in head.args)
                or [t.name for t in head.args].count(e.name) != 1 or ident.name not in [t.name for t in head.args]
                or sum(1 for b in r.body for t in b.args if e.name in _vars(t)) != 1
                or not (r.show_term or head.sig in shown)
            ):
                raise Refused(f"{r.where}: an output that depends on a finding's evidence term ({r.text[:70]})")
            names = [t.name for t in head.args]
            spot = (names.index(ident.name), names.index(e.name))
            if carriers.get(head.sig, spot) != spot:
                raise Refused(f"{r.where}: {head.sig[0]}/{head.sig[1]} carries evidence in two places")
            carriers[head.sig] = spot
            carrier_rules.add(id(r))
    # A carrier is either a shown predicate that no rule reads, or a show term; either
    # way every output of that name must come from findings.
    for sig in carriers:
        by_term = any(r.show_term and id(r) in carrier_rules and r.heads[0].sig == sig for r in rules)
        if by_term and sig in shown:
            raise Refused(f"{sig[0]}/{sig[1]} is shown both as a predicate and as a term")
        for r in rules:
            if not by_term and any(b.sig == sig for b in r.body):
                raise Refused(f"{r.where}: {sig[0]}/{sig[1]} carries evidence and is read by a rule")
            outputs = r.show_term if by_term else not r.show_term
            if outputs and any(h.sig == sig for h in r.heads) and id(r) not in carrier_rules:
                raise Refused(f"{r.where}: {sig[0]}/{sig[1]} carries evidence but not only from findings")

    # Shown values must hold no case key (the cache stores them without it).
    for r in rules:
        if not (r.show_term or (r.heads and r.heads[0].sig in shown)) or id(r) in carrier_rules:
            continue
        for h in r.heads:
            for i in range(1, h.sig[1]):
                if r.show_term:
                    key = an.keyvar[id(r)]
                    value = an._template(h.args[i], key, an._env(r, key, an.positions)) if key else CLEAN
                else:
                    value = an.positions.get((h.sig, i), CLEAN)
                if value != CLEAN:
                    raise Refused(f"{r.where}: output {h.sig[0]}/{h.sig[1]} holds the case key in argument {i + 1}")
    for sig in shown:
        for i in range(1, sig[1]):
            if sig not in carriers and an.positions.get((sig, i), CLEAN) != CLEAN:
                raise Refused(f"output {sig[0]}/{sig[1]} holds the case key in argument {i + 1}")

    # Evidence: where the key sits in each shape of evidence term.
    evidence = an.positions.get((FINDING, 3), CLEAN)
    if evidence == DIRTY:
        raise Refused("an evidence term holds the case key where it cannot be re-keyed")
    for pos in (1, 2):
        if an.positions.get((FINDING, pos), CLEAN) != CLEAN:
            raise Refused("a finding's id or status depends on the case key")
    templates = {} if evidence == CLEAN else dict(evidence)

    # Leaves: which ids each finding rule can derive, and what it reads.
    ctl, messages = kb.control()
    kb.ground(ctl, messages, [("base", [])])
    data = ctl.symbolic_atoms
    for atom in data:
        for s in _nested(atom.symbol):
            if (s.name, len(s.arguments)) in templates:
                raise Refused(f"data {atom.symbol} has the shape of a keyed evidence term")
    leaf_reads: dict[str, set[Sig]] = {}
    leaf_rules: list[tuple[_Rule, _Atom]] = []
    ids_of: dict[int, set[str]] = {}
    for r in an.rules_of(FINDING):
        for h in (h for h in r.heads if h.sig == FINDING):
            ident = h.args[1]
            if ident.ast_type == T.SymbolicTerm:
                ids = {id_text(ident.symbol)}
            elif ident.ast_type == T.Variable:
                ids = _extension(ident.name, r, an, data)
                if ids is None:
                    raise Refused(f"{r.where}: a finding whose criterion id is neither a constant nor bound by a data fact")
            else:
                raise Refused(f"{r.where}: a finding whose criterion id is a computed term")
            reads = an.reads(r.body, {FINDING})
            if FINDING in reads or any(FINDING in an.reads([b], {FINDING}) for b in r.body):
                raise Refused(f"{r.where}: a leaf that reads another leaf's finding")
            for i in ids:
                leaf_reads.setdefault(i, set()).update(reads)
            leaf_rules.append((r, h))
            ids_of.setdefault(id(r), set()).update(ids)
    # Every status a finding can have, for the parts (parts.py): only if each is a constant.
    terms = [h.args[2] for _, h in leaf_rules]
    constant = all(t.ast_type == T.SymbolicTerm and t.symbol.type == clingo.SymbolType.Function and not t.symbol.arguments for t in terms)
    statuses = tuple(sorted({str(t) for t in terms})) if constant else ()
    from ..casemodel import Name

    selections = leaf_selections(
        leaf_rules, an, data, lambda r: sorted(ids_of[id(r)]), lambda s: _plain(s, Name),
        lambda sig: _Atom(sig, [], True, "body"),
    )
    by_reads: dict[tuple, set[str]] = {}
    for leaf, reads in leaf_reads.items():
        select = tuple(sorted(
            (q, how[0], how[1]) for q, how in selections.get(leaf, {}).items() if how is not None and q in reads
        ))
        by_reads.setdefault((frozenset(reads), select), set()).add(leaf)
    groups = tuple(
        Group(frozenset(leaves), tuple(sorted(reads)), select)
        for (reads, select), leaves in sorted(by_reads.items(), key=lambda kv: min(kv[1]))
    )

    # Upper levels: everything shown, every constraint, read through anything but findings.
    roots = [a for r in rules if r.show_term or r.constraint for a in r.body]
    roots += [_Atom(sig, [], True, "body") for sig in shown if sig in an.keyed]
    roots += [a for r in rules if id(r) in carrier_rules for a in r.body]
    hooks = an.reads(roots, {FINDING}) - {FINDING}
    _check_projection(an, roots, carrier_rules)

    # Corrections: the what-if program over the same findings.
    wrules, wshown = _rules(parse_program(kb, "whatif"), "whatif")
    wan = _Analysis(wrules, wshown)
    for r in wrules:
        for a in r.body:
            if a.sig == FINDING:
                e = a.args[3]
                if not (e.ast_type == T.Variable and (e.name == "_" or _occurrences(r, e.name) == 1)):
                    raise Refused(f"{r.where}: the what-if reads a finding's evidence")
    wroots = [a for r in wrules if r.show_term or r.constraint for a in r.body]
    wroots += [_Atom(sig, [], True, "body") for sig in wshown if sig in wan.keyed]
    wroots += [a for r in wrules for h in r.heads if h.sig in wshown for a in r.body]
    whooks = (wan.reads(wroots, {FINDING}) - {FINDING} - CORRECTOR_INPUTS) & an.inputs
    for sig in wshown:
        for i in range(1, sig[1]):
            if wan.positions.get((sig, i), CLEAN) != CLEAN:
                raise Refused(f"what-if output {sig[0]}/{sig[1]} holds the case key")

    collapse = _collapsible(an, wan, data, shown)
    interface = {a.sig for r in rules if not r.show_term for a in r.body if a.sig in shown}

    return Derivation(
        True,
        collapse=collapse,
        inputs=frozenset(an.inputs),
        groups=groups,
        hooks=tuple(sorted(hooks)),
        correction_hooks=tuple(sorted(hooks | whooks)),
        carriers=carriers,
        templates=templates,
        statuses=statuses,
        interface=tuple(sorted(interface)),
        statements=tuple(statements),
    )


def _check_names(rules: list[_Rule]) -> None:
    """The name the engine shows findings to the cache by (engine.COLLECTED) is its own."""
    for r in rules:
        for a in r.heads + r.body:
            if a.sig[0].lstrip("-") == COLLECTED:
                raise Refused(f"{r.where}: the program uses {COLLECTED}, the name the engine shows findings to the cache by")


def _check_stratified(rules: list[_Rule]) -> None:
    """Nothing the findings rest on depends on itself through negation or an aggregate.

    Then the findings are facts once grounded, and a group's findings are a
    function of the facts it reads: with recursion through negation below them a
    group could have several models of its own, of which the rest of the program
    keeps one, and its findings would depend on more than its inputs. Above the
    findings (e.g. a tree's values, recursive through #min) the engine's
    second-model check catches a program that is not deterministic.
    """
    edges: dict[Sig, set[Sig]] = {}
    negative: list[tuple[Sig, Sig, str]] = []
    for r in rules:
        if r.show_term or r.constraint:
            continue
        nonmonotone = {id(a) for a in r.nonmonotone}
        for h in r.heads:
            for b in r.body:
                edges.setdefault(h.sig, set()).add(b.sig)
                if not b.positive or id(b) in nonmonotone:
                    negative.append((h.sig, b.sig, r.where))
    below: set[Sig] = set()
    todo = [FINDING]
    while todo:
        sig = todo.pop()
        if sig not in below:
            below.add(sig)
            todo += edges.get(sig, ())
    for head, body, where in negative:
        if head not in below:
            continue
        seen: set[Sig] = set()
        todo = [body]
        while todo:
            sig = todo.pop()
            if sig == head:
                raise Refused(
                    f"{where}: {head[0]}/{head[1]} depends on itself through negation or an aggregate"
                    " (the program is not stratified)"
                )
            if sig not in seen:
                seen.add(sig)
                todo += edges.get(sig, ())


def _collapsible(an: _Analysis, wan: _Analysis, data: clingo.SymbolicAtoms, shown: set[Sig]) -> dict[str, dict[int, frozenset]]:
    """Input positions whose variable, in every rule that reads the input, occurs only in data literals."""
    from ..casemodel import Name

    out: dict[str, dict[int, frozenset]] = {}
    all_rules = an.rules + wan.rules
    for sig in sorted(an.inputs - {CASE}):
        if sig in shown:
            continue
        uses = [(r, a) for r in all_rules for a in r.body if a.sig == sig]
        if any(h.sig == sig for r in all_rules for h in r.heads):
            continue
        for pos in range(1, sig[1]):
            kept: set = set()
            ok = bool(uses)
            for r, a in uses:
                term = a.args[pos]
                if term.ast_type != T.Variable:
                    ok = False
                    break
                if term.name == "_":
                    continue
                joins = [
                    (b, j) for b in r.body if b is not a for j, t in enumerate(b.args)
                    if t.ast_type == T.Variable and t.name == term.name
                ]
                if _occurrences(r, term.name) != 1 + len(joins) or not all(
                    b.positive and b.sig not in an.keyed and b.sig not in wan.keyed for b, _ in joins
                ):
                    ok = False
                    break
                for b, j in joins:
                    for atom in data.by_signature(*b.sig):
                        kept.add(_plain(atom.symbol.arguments[j], Name))
            if ok:
                out.setdefault(sig[0], {})[pos] = frozenset(kept)  # pos: the argument's place in a plain fact too
    return out


def _plain(symbol: clingo.Symbol, name: type) -> object:
    if symbol.type == clingo.SymbolType.Number:
        return symbol.number
    if symbol.type == clingo.SymbolType.String:
        return symbol.string
    if symbol.type == clingo.SymbolType.Function and not symbol.arguments:
        return name(symbol.name)
    return ("compound", str(symbol))  # matches no plain fact value


def _check_projection(an: _Analysis, roots: list[_Atom], carrier_rules: set[int]) -> None:
    """Every rule the upper levels reach reads findings as (id, status) only."""
    seen: set[Sig] = set()
    todo = [a.sig for a in roots if a.sig in an.keyed]
    while todo:
        sig = todo.pop()
        if sig in seen or sig == FINDING or sig in an.inputs:
            continue
        seen.add(sig)
        for r in an.rules_of(sig):
            if id(r) in carrier_rules:
                continue
            for a in r.body:
                if a.sig == FINDING:
                    e = a.args[3]
                    if not (e.ast_type == T.Variable and (e.name == "_" or _occurrences(r, e.name) == 1)):
                        raise Refused(f"{r.where}: a decision rule reads a finding's evidence ({r.text[:70]})")
                todo.append(a.sig)


def _extension(var: str, rule: _Rule, an: _Analysis, data: clingo.SymbolicAtoms) -> set[str] | None:
    """The ids a variable can take, from a data predicate of the rule body (its ground facts)."""
    best: set[str] | None = None
    for a in rule.body:
        if not a.positive or a.sig in an.keyed:
            continue
        for i, t in enumerate(a.args):
            if t.ast_type == T.Variable and t.name == var:
                values = {id_text(s.symbol.arguments[i]) for s in data.by_signature(*a.sig)}
                if best is None or len(values) < len(best):
                    best = values
    return best


def _nested(symbol: clingo.Symbol) -> Iterable[clingo.Symbol]:
    for arg in symbol.arguments if symbol.type == clingo.SymbolType.Function else ():
        if arg.type == clingo.SymbolType.Function:
            yield arg
            yield from _nested(arg)
