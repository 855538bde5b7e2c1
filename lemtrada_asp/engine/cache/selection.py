"""Which facts of an input a leaf reads: those a data table ties to the leaf.

A leaf group is keyed by the exact facts of the inputs it reads, so a list input
(say, the treatments a member has had) makes a key of the whole list, and every
new list is a miss, though a leaf may ask about one treatment only::

    finding(K, Id, met, treated(K, I, T, O)) :-
        asks_for(Id, T), treated(K, I, T, O), good_outcome(O).

Here the data fact ``asks_for(Id, T)`` ties the treatment T to the leaf, and T
sits at the same place of every ``treated`` fact the rule reads, directly or
through a helper that keeps it at a place of its own (``not tried(K, T)``). Then
each such leaf reads only the facts of its own treatments: its findings are a
function of those facts, and its key holds only them.

The analysis follows variables, not names: a place is selected when, in every rule
for the leaf, the input's argument there is a variable that a positive data atom
(outside any aggregate or condition, so the variable is the rule's own) binds
together with the leaf's id; through a helper predicate when each of the
helper's rules keeps its head's variable at the input's place. Anything else (a
computed term, a constant, recursion) reads the input whole, as before.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from clingo.ast import ASTType as T

from ..atoms import id_text

__all__ = ["Selection", "leaf_selections"]

Sig = tuple[str, int]
# input -> (argument place, the values a fact must hold there) or None: every fact
Selection = dict[Sig, "tuple[int, frozenset] | None"]


def _var(term: Any) -> str | None:
    return term.name if term.ast_type == T.Variable and term.name != "_" else None


def _merge(into: dict, other: dict) -> None:
    for q, how in other.items():
        if q in into and into[q] != how:
            into[q] = None
        else:
            into[q] = how


class _Places:
    """Which input place each helper predicate's argument keeps (memoised, recursion read whole)."""

    def __init__(self, an: Any, atom: Callable[[Sig], Any]):
        self.an = an
        self.atom = atom
        self.memo: dict[tuple[Sig, int], dict[Sig, int | None]] = {}
        self.visiting: set[tuple[Sig, int]] = set()

    def whole(self, sig: Sig) -> dict[Sig, int | None]:
        return {q: None for q in self.an.reads([self.atom(sig)], set())}

    def of(self, sig: Sig, place: int) -> dict[Sig, int | None]:
        """Input -> the place a variable at ``place`` of ``sig`` keeps it at (None: read whole)."""
        key = (sig, place)
        if key in self.memo:
            return self.memo[key]
        if key in self.visiting:
            return self.whole(sig)
        self.visiting.add(key)
        found: dict[Sig, int | None] = {}
        for r in self.an.rules_of(sig):
            for h in (h for h in r.heads if h.sig == sig):
                var = _var(h.args[place]) if place < len(h.args) else None
                _merge(found, self.body(r, var) if var else {q: None for q in self.an.reads(r.body, set())})
        self.visiting.discard(key)
        self.memo[key] = found
        return found

    def body(self, r: Any, var: str) -> dict[Sig, int | None]:
        """What a rule's keyed body atoms read, given that ``var`` is fixed."""
        found: dict[Sig, int | None] = {}
        for b in r.body:
            if b.sig not in self.an.keyed:
                continue
            places = [j for j, t in enumerate(b.args) if j > 0 and _var(t) == var]
            if b.sig in self.an.inputs:
                _merge(found, {b.sig: places[0] if places else None})
            elif places:
                kept = self.of(b.sig, places[0])
                _merge(found, {q: kept.get(q) for q in self.an.reads([b], set())})
            else:
                _merge(found, {q: None for q in self.an.reads([b], set())})
        return found


def leaf_selections(
    rules: Iterable[Any], an: Any, data: Any, ident_of: Callable[[Any], Iterable[str]],
    plain: Callable[[Any], object], atom: Callable[[Sig], Any],
) -> dict[str, Selection]:
    """For each leaf, what its finding rules read of each input (see the module docstring)."""
    places = _Places(an, atom)
    out: dict[str, Selection] = {}
    for r, head in rules:
        ident = head.args[1]
        id_var = _var(ident)
        reads = an.reads(r.body, set())
        for leaf in ident_of(r):
            bound = _bound(r, ident, id_var, leaf, data, plain, an)
            chosen: dict[Sig, Any] = {q: None for q in reads}
            for var, values in bound.items():
                kept = places.body(r, var)
                for q, place in kept.items():
                    if place is not None:
                        chosen[q] = (place, values) if chosen.get(q) is None else chosen[q]
            _merge(out.setdefault(leaf, {}), chosen)
    return out


def _bound(r: Any, ident: Any, id_var: str | None, leaf: str, data: Any, plain: Callable, an: Any) -> dict[str, frozenset]:
    """Variables a positive data atom binds together with the leaf's id, and their values for this leaf."""
    bound: dict[str, frozenset] = {}
    inside = {id(a) for a in r.nonmonotone}  # in an aggregate or a condition, a variable may be local to it
    for d in r.body:
        if not d.positive or d.sig in an.keyed or id(d) in inside:
            continue
        at = [j for j, t in enumerate(d.args) if (id_var and _var(t) == id_var) or _same_constant(t, ident)]
        if not at:
            continue
        facts = [a.symbol.arguments for a in data.by_signature(*d.sig)]
        mine = [args for args in facts if id_text(args[at[0]]) == leaf]
        for j, t in enumerate(d.args):
            var = _var(t)
            if var and var != id_var and var not in bound:
                bound[var] = frozenset(plain(args[j]) for args in mine)
    return bound


def _same_constant(term: Any, ident: Any) -> bool:
    return term.ast_type == T.SymbolicTerm and ident.ast_type == T.SymbolicTerm and str(term) == str(ident)

