"""Which parts of a decision are functions of which leaves: proven on the ground program.

The cache (cache.py) answers a case from memory when it has seen each part of
it. Keyed by every leaf's status at once, the layer above the leaves misses
whenever any two criteria combine in a new way, though a criterion's statuses,
reasons and needs rest on its own leaves only, and the decision on which
criteria failed or are missing. Which atoms rest on which leaves is a question
about the policy's data (its tree of criteria), not only its rules, so it is
answered here on the ground program, for one case:

* the case's hook facts (prior courses, the member's state: what the rest of the
  decision reads besides findings) are given exactly; every finding a leaf could
  have is an external, free to be true or false; the leaves' own rules are left
  out, so nothing about them is decided;
* clingo grounds that (base, and details when asked) and a ground program
  observer records every rule; the program must be acyclic there, so every atom
  is a function of the findings it reaches;
* the interface is the ground atoms of shown predicates that rules read (e.g.
  ``failed/3``, ``missing/2``, ``reason/3``). An output (or constraint) that
  reaches a leaf other than through the interface, and every interface atom that
  does, joins the leaves it rests on into one part, keyed by those leaves' statuses.
  Then an output whose leaves all lie in one part belongs to it; an output
  resting on several parts (only through the interface) belongs to the decision
  level, keyed by the interface atoms it reads that hold (here ``failed/3`` and
  ``missing/2``);
* a leaf no output reaches (a continuation criterion in an initial review) is in
  no part: its status changes nothing for cases with these hooks.

Proven once per value of the hooks (the cache keys everything by them anyway),
in about 16 ms here. What cannot be proven (a cycle, a choice, a decision level
reading an atom no part shows) gives ``None``, and the cache keeps the decision
above the leaves whole, as it would for a KB it knows nothing about.

The ground program is kept for a few values of the hooks (``Grounded``), and
answers what holds above the leaves for a case's statuses given as assumptions:
the cache's new decision levels. ``Above`` grounds any program that way, so the
what-if of corrections too, whose optimal answers are a case's minimal corrections.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import clingo
from clingo import Function, Number, String, Symbol

__all__ = ["DECISION", "Above", "Grounded", "Parts", "Prover", "key"]

DECISION = -1  # the level of an output that rests on findings only through the interface
EVIDENCE = "_evidence"  # the stand-in evidence of an abstract finding: _evidence(Leaf, Status)


@dataclass(frozen=True)
class Parts:
    """For one value of the hooks: the parts, and where each possible output belongs."""

    parts: tuple[tuple[str, ...], ...]  # each part's leaves, sorted
    part_of: dict[str, int]  # leaf -> its part (leaves in no part are absent)
    level: dict[tuple, int]  # an output's key (see key()) -> its part, or DECISION
    interface: frozenset[tuple]  # keys of the outputs the decision level is keyed by
    stand_ins: dict[tuple[str, str], Symbol]  # (leaf, status) -> the evidence an abstract finding has


def stand_in(leaf: str, status: Symbol) -> Symbol:
    return Function(EVIDENCE, [String(leaf), status])


def key(name: str, args: Sequence[Symbol], evidence_at: int | None = None, evidence: Symbol | None = None) -> tuple:
    """An output without its case key (and with a stand-in for carried evidence): no call into clingo."""
    rest = tuple(args[1:])
    if evidence_at is not None:
        rest = (*rest[: evidence_at - 1], evidence, *rest[evidence_at:])
    return (name, rest)


class _Observer:
    """The ground program as clingo's grounder hands it on (clingo.Observer's protocol)."""

    def __init__(self) -> None:
        self.bodies: dict[int, list[int]] = {}  # head atom -> the atoms of every body it has
        self.constraints: list[list[int]] = []
        self.outputs: dict[Symbol, list[int]] = {}  # output -> the atoms of its conditions
        self.refused = ""

    def rule(self, choice: bool, head: Sequence[int], body: Sequence[int]) -> None:
        self._rule(choice, head, [abs(b) for b in body])

    def weight_rule(self, choice: bool, head: Sequence[int], lower_bound: int, body: Sequence[tuple[int, int]]) -> None:
        self._rule(choice, head, [abs(b) for b, _ in body])

    def _rule(self, choice: bool, head: Sequence[int], body: list[int]) -> None:
        if choice or len(head) > 1:
            self.refused = "a choice or disjunction in the ground program"
        if not head:
            self.constraints.append(body)
        for h in head:
            self.bodies.setdefault(h, []).extend(body)

    def output_atom(self, symbol: Symbol, atom: int) -> None:
        self.outputs.setdefault(symbol, []).extend([atom] if atom else [])

    def output_term(self, symbol: Symbol, condition: Sequence[int]) -> None:
        self.outputs.setdefault(symbol, []).extend(abs(c) for c in condition)


class Above:
    """A program without the leaves' own rules, ground for one value of the hooks with every finding free.

    What such a program derives is a function of the findings' statuses and the hooks
    alone, which is what the derivation vouches for (derive.py: the decision reads
    the case other than through findings only by the hooks, the what-if of corrections
    by its correction hooks). So the cache can ask it about a case's known statuses
    instead of deciding the case on the whole program.
    """

    def __init__(self, statements: Iterable[Any], leaves: Iterable[str], statuses: Iterable[Symbol]):
        """statements: the program as clingo parses it (the decision program's is the derivation's, parsed once)."""
        from clingo import ast

        self.leaves = tuple(sorted(leaves))
        self.statuses = tuple(statuses)
        self.statements: list[Any] = []
        for statement in statements:  # every statement but a leaf's own rules
            for st in statement.unpool():
                head = getattr(st, "head", None)
                atom = getattr(head, "atom", None)
                symbol = getattr(atom, "symbol", None)
                if st.ast_type == ast.ASTType.Rule and symbol is not None and symbol.ast_type == ast.ASTType.Function \
                        and symbol.name == "finding" and len(symbol.arguments) == 4:
                    continue
                self.statements.append(st)

    def ground(
        self, hooks: Sequence[Symbol], parts: Sequence[tuple[str, Sequence[Symbol]]], arguments: Sequence[str] = (),
        observer: "_Observer | None" = None,
    ) -> "Grounded":
        """Ground the program parts for a case (keyed 0) whose hook facts are ``hooks``."""
        from clingo import ast

        ctl = clingo.Control(["--warn=none", *arguments])
        if observer is not None:
            ctl.register_observer(observer)
        with ast.ProgramBuilder(ctl) as builder:
            for st in self.statements:
                builder.add(st)
        with ctl.backend() as backend:
            for symbol in hooks:
                backend.add_rule([backend.add_atom(symbol)])
            backend.add_rule([backend.add_atom(Function("case", [Number(0)]))])
            for leaf in self.leaves:
                for status in self.statuses:
                    atom = backend.add_atom(_finding(leaf, status))
                    backend.add_external(atom, clingo.TruthValue.Free)
        ctl.ground(list(parts))
        return Grounded(self, ctl, observer)


def _finding(leaf: str, status: Symbol) -> Symbol:
    return Function("finding", [Number(0), String(leaf), status, stand_in(leaf, status)])


class Prover:
    """Proves the parts of a KB's decision for each value of its hooks (see the module docstring)."""

    def __init__(
        self, statements: Iterable[Any], leaves: Iterable[str], statuses: Iterable[Symbol], interface: Iterable[tuple[str, int]]
    ):
        """statements: the decision program as clingo parses it (the derivation's, so it is parsed once)."""
        self.above = Above(statements, leaves, statuses)
        self.interface = frozenset(interface)

    def prove(self, hooks: Sequence[Symbol], details: bool) -> Parts | None:
        """The parts for a case whose hook facts (keyed 0) are ``hooks``; None if they cannot be proven."""
        return self.ground(hooks, details).parts(self.interface)

    def ground(self, hooks: Sequence[Symbol], details: bool, observe: bool = True) -> "Grounded":
        """The decision program above the leaves for these hooks, ground once for the proof and for ``Grounded.holds``.

        observe=False: for ``holds`` only, when the proof is already known (stored.py):
        without the observer's copy of every rule it grounds in about two thirds of the time.
        """
        parts = [("base", []), ("details", [])] if details else [("base", [])]
        return self.above.ground(hooks, parts, observer=_Observer() if observe else None)


class Grounded:
    """A program above the leaves (``Above``), ground for one value of the hooks.

    ``parts()`` is the proof (the module docstring). ``holds(pairs)`` asks clingo what
    holds when the findings are exactly those (leaf, status) pairs: the cache uses it
    for the decision level of a case whose every part it has seen, since the decision
    level rests on the parts only through the interface atoms (the proof).
    ``optimal(pairs)`` gives every optimal answer instead, for the what-if of
    corrections. A few are kept at a time: a ground program is about 0.7 MB here.
    """

    def __init__(self, above: Above, ctl: clingo.Control, observer: _Observer | None):
        self.above = above
        self.ctl = ctl
        self.observer = observer
        self._solving = threading.Lock()  # one solve at a time: a Policy (and its cache) may be shared by threads
        atoms = ctl.symbolic_atoms
        self.literals: dict[tuple[str, str], int] = {}  # (leaf, status) -> the literal of its finding's external
        for leaf in above.leaves:
            for status in above.statuses:
                found = atoms[_finding(leaf, status)]
                if found is not None:
                    self.literals[(leaf, str(status))] = found.literal

    def parts(self, interface: frozenset[tuple[str, int]]) -> Parts | None:
        """The parts, from the rules the observer saw; interface: the signatures of the shown atoms rules read."""
        observer, self.observer = self.observer, None  # its copy of the rules is not needed again
        if observer is None:
            raise RuntimeError("the parts are proven once, on a program ground with an observer")
        if observer.refused:
            return None
        above = self.above
        atoms = self.ctl.symbolic_atoms
        source = {literal: leaf for (leaf, _), literal in self.literals.items()}
        interface_atoms = {a.symbol: a.literal for sig in interface for a in atoms.by_signature(*sig)}
        found = _partition(observer, source, interface_atoms)
        if found is None:
            return None
        level, held, parts, part_of = found
        stand_ins = {(leaf, str(status)): stand_in(leaf, status) for leaf in above.leaves for status in above.statuses}
        return Parts(
            parts, part_of, {key(s.name, s.arguments): v for s, v in level.items()},
            frozenset(key(s.name, s.arguments) for s in held), stand_ins,
        )

    def holds(self, pairs: Iterable[tuple[str, str]]) -> list[Symbol] | None:
        """The shown atoms when exactly these findings hold (None: no answer, or a pair without a finding here)."""
        return self._solve(pairs, lambda handle: next((model.symbols(shown=True) for model in handle), None))

    def optimal(self, pairs: Iterable[tuple[str, str]]) -> list[list[Symbol]] | None:
        """The shown atoms of every optimal answer (ground with --opt-mode=optN); None: none, or an unknown pair."""
        return self._solve(pairs, lambda handle: [m.symbols(shown=True) for m in handle if m.optimality_proven] or None)

    def _solve(self, pairs: Iterable[tuple[str, str]], read: Callable[[clingo.SolveHandle], Any]) -> Any:
        true = set()
        for pair in pairs:
            literal = self.literals.get(pair)
            if literal is None:
                return None
            true.add(literal)
        assumptions = [literal if literal in true else -literal for literal in self.literals.values()]
        with self._solving, self.ctl.solve(assumptions=assumptions, yield_=True) as handle:
            return read(handle)


def _partition(
    observer: _Observer, source: dict[int, str], interface_atoms: dict[Symbol, int]
) -> tuple[dict[Symbol, int], frozenset[Symbol], tuple[tuple[str, ...], ...], dict[str, int]] | None:
    """Each output's level, the interface outputs the decision level reads, the parts and each leaf's part (None: a cycle)."""
    bodies = observer.bodies
    cut = set(interface_atoms.values())
    full: dict[int, frozenset[str]] = {}
    state: dict[int, int] = {}  # 1: on the path, 2: done

    def reach(atom: int) -> frozenset[str] | None:
        """The leaves an atom's truth rests on (None: a cycle)."""
        stack = [(atom, iter(bodies.get(atom, ())))]
        state[atom] = 1
        while stack:
            node, todo = stack[-1]
            advanced = False
            for b in todo:
                s = state.get(b)
                if s == 1:
                    return None
                if s is None:
                    state[b] = 1
                    stack.append((b, iter(bodies.get(b, ()))))
                    advanced = True
                    break
            if advanced:
                continue
            stack.pop()
            state[node] = 2
            found = {source[node]} if node in source else set()
            for b in bodies.get(node, ()):
                found |= full[b]
            full[node] = frozenset(found)
        return full[atom]

    def rests(atoms: Iterable[int]) -> frozenset[str] | None:
        found: set[str] = set()
        for a in atoms:
            got = full.get(a) if state.get(a) == 2 else reach(a)
            if got is None:
                return None
            found |= got
        return frozenset(found)

    # Through the interface: the leaves an atom reaches without passing an interface atom.
    direct: dict[int, frozenset[str]] = {}

    def beside(atom: int, stop: set[int]) -> frozenset[str]:
        if atom in direct:
            return direct[atom]
        found = {source[atom]} if atom in source else set()
        for b in bodies.get(atom, ()):
            if b not in stop:
                found |= beside(b, stop)
        direct[atom] = frozenset(found)
        return direct[atom]

    # Each output (None: a constraint), its condition's atoms, and the leaves they rest on.
    roots: list[tuple[Any, list[int], frozenset[str]]] = []
    for symbol, atoms in [*observer.outputs.items(), *((None, body) for body in observer.constraints)]:
        rest = rests(atoms)
        if rest is None:
            return None
        roots.append((symbol, atoms, rest))
    if any(rests([atom]) is None for atom in cut):
        return None
    # An interface atom that reaches no leaf but through other interface atoms is of the decision level itself.
    stop = set(cut)
    while True:
        direct.clear()
        idle = {a for a in stop if not any(beside(b, stop) for b in bodies.get(a, ()) if b not in stop) and a not in source}
        if not idle:
            break
        stop -= idle
    direct.clear()

    parent = {leaf: leaf for leaf in set(source.values())}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # Outputs that reach a leaf other than through the interface (and interface atoms themselves)
    # join the leaves they rest on into one part.
    for symbol, atoms, rest in roots:
        own = symbol is not None and interface_atoms.get(symbol) in stop
        if own or any(beside(b, stop) for b in atoms if b not in stop):
            leaves = sorted(rest)
            for other in leaves[1:]:
                parent[find(other)] = find(leaves[0])
    # Then an output whose leaves are all in one part belongs to it; the rest (resting on no
    # leaf, or on several parts through the interface) to the decision level, keyed by the
    # interface atoms it reads.
    read: set[int] = set()
    home: dict[Symbol, str | None] = {}
    for symbol, atoms, rest in roots:
        roots_of = {find(leaf) for leaf in rest}
        if len(roots_of) == 1:
            if symbol is not None:
                home[symbol] = roots_of.pop()
            continue
        if symbol is not None:
            home[symbol] = None
        read |= _stops(atoms, bodies, stop)
    used = {r for r in home.values() if r is not None}
    groups: dict[str, list[str]] = {}
    for leaf in parent:
        groups.setdefault(find(leaf), []).append(leaf)
    parts = tuple(sorted(tuple(sorted(g)) for r, g in groups.items() if r in used))
    part_of = {leaf: i for i, part in enumerate(parts) for leaf in part}
    level = {symbol: DECISION if r is None else part_of[r] for symbol, r in home.items()}
    by_atom = {a: s for s, a in interface_atoms.items()}
    if any(by_atom.get(a) is None or level.get(by_atom[a], DECISION) == DECISION for a in read):
        return None  # the decision level reads an atom no part shows: it could not be keyed
    return level, frozenset(by_atom[a] for a in read), parts, part_of


def _stops(atoms: Iterable[int], bodies: dict[int, list[int]], stop: set[int]) -> set[int]:
    """The interface atoms met on the way down from atoms (not passing through them)."""
    met: set[int] = set()
    seen: set[int] = set()
    todo = list(atoms)
    while todo:
        a = todo.pop()
        if a in seen:
            continue
        seen.add(a)
        if a in stop:
            met.add(a)
            continue
        todo += bodies.get(a, ())
    return met
