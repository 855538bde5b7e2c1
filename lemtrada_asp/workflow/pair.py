"""Two copies of one KB over the abstract input space, ground once: what one answer can change.

"Can this question's answer still change the decision?" compares two cases that
agree on everything but that answer. One ground program holds two copies of the
KB, ``a`` and ``b``, each with every predicate renamed (the case inputs too), and
each choosing its own abstract case from the space (analysis/space.py: finitely
many values per input, exact for what the KB can tell apart). A switch
``wf_same(Dim)`` per dimension, assumed or not, ties the two copies' values of
that dimension together. So, under assumptions only:

- the decision is fixed for a partial case iff no pair of completions (each
  dimension within the values the partial case leaves open) decides differently;
- a question matters iff such a pair exists that differs only in the question's
  own dimensions (every other dimension tied).

Outcome atoms, per copy: ``wf_out`` (the decision, pend reason and grants: what
the adaptive form must fix), ``wf_full`` (that, plus the failed and missing ids:
everything PAS answers), ``wf_review`` and ``wf_st`` (each criterion's status).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import clingo
from clingo import Function, Number, String, Symbol, ast

from ..analysis.program import _DROPPED, KbSource, Solving, _Rename
from ..analysis.space import Dim, Space
from ..engine.errors import KnowledgeBaseError

__all__ = ["COPIES", "Pair"]

COPIES = ("a", "b")

_PER_COPY = """
wf_out({p}, decision(D, R)) :- {p}__decision(0, D, R).
wf_out({p}, granted(F, V)) :- {p}__granted(0, F, V).
wf_out({p}, no_answer) :- {p}__wb_violated.
wf_full({p}, X) :- wf_out({p}, X).
wf_full({p}, failed(I)) :- {p}__failed(0, I, _).
wf_full({p}, missing(I)) :- {p}__missing(0, I).
wf_st({p}, T, S) :- {p}__status(0, T, S).
wf_review({p}, R) :- {p}__review(0, R).
"""
_BETWEEN = """
wf_differ :- wf_out(a, X), not wf_out(b, X).
wf_differ :- wf_out(b, X), not wf_out(a, X).
wf_pdiff :- wf_full(a, X), not wf_full(b, X).
wf_pdiff :- wf_full(b, X), not wf_full(a, X).
wf_rdiff :- wf_review(a, R), not wf_review(b, R).
wf_rdiff :- wf_review(b, R), not wf_review(a, R).
#show wv/3. #show wf_out/2. #show wf_full/2. #show wf_st/3. #show wf_review/2. #show wf_ans/2. #show wf_unans/2.
"""


class _Everything(_Rename):
    """Prefix every predicate, the case inputs too: each copy reads its own case."""

    def _name(self, name: str) -> str:
        return f"{self.prefix}__{name}"


@dataclass(frozen=True)
class Pick:
    """One copy's abstract case in a model: a value key per dimension."""

    values: dict[str, str]


class Pair(Solving):
    """The KB twice over the space; ``answered`` maps a question to its dimensions (for ``wf_ans``)."""

    def __init__(self, source: KbSource, space: Space, answered: dict[str, Sequence[str]] | None = None,
                 extra: Callable[[clingo.Backend, "Pair"], None] | None = None, extra_text: str = ""):
        self.space = space
        self.messages: list[str] = []
        self.ctl = clingo.Control(["--models=1"], logger=lambda code, text: self.messages.append(text.strip()), message_limit=100)
        with ast.ProgramBuilder(self.ctl) as builder:
            for prefix in COPIES:
                rename = _Everything(prefix)
                for statement in source.statements:
                    if statement.ast_type in _DROPPED:
                        continue
                    for plain in statement.unpool() if statement.ast_type == ast.ASTType.Rule else [statement]:
                        builder.add(rename(plain))
            ast.parse_string("#program base.", builder.add)
        self.ctl.add("base", [], "".join(_PER_COPY.format(p=p) for p in COPIES) + _BETWEEN + extra_text)
        self.values: dict[tuple[str, str, str], int] = {}  # (copy, dim, key) -> literal
        self.same: dict[str, int] = {}
        with self.ctl.backend() as backend:
            for copy in COPIES:
                backend.add_rule([backend.add_atom(Function(f"{copy}__case", [Number(0)]))])
                for dim in space.dims:
                    atoms = [backend.add_atom(Function("wv", [Function(copy), String(dim.name), String(v.key)])) for v in dim.values]
                    backend.add_rule(atoms, [], choice=True)
                    backend.add_rule([], [-a for a in atoms])
                    backend.add_weight_rule([], 2, [(a, 1) for a in atoms])
                    for atom, value in zip(atoms, dim.values):
                        self.values[(copy, dim.name, value.key)] = atom
                        for fact in value.facts:
                            backend.add_rule([backend.add_atom(Function(f"{copy}__{fact.name}", fact.arguments))], [atom])
                for first, second in space.conflicts:
                    backend.add_rule([], [self.values[(copy, *first)], self.values[(copy, *second)]])
                for question, dims in (answered or {}).items():
                    head = backend.add_atom(Function("wf_ans", [Function(copy), String(question)]))
                    for name in dims:
                        for value in space.dim(name).values:
                            if value.facts:
                                backend.add_rule([head], [self.values[(copy, name, value.key)]])
                    unanswered = backend.add_atom(Function("wf_unans", [Function(copy), String(question)]))
                    backend.add_rule([unanswered], [-head])
            for dim in space.dims:
                switch = backend.add_atom(Function("wf_same", [String(dim.name)]))
                backend.add_rule([switch], [], choice=True)
                self.same[dim.name] = switch
                for value in dim.values:
                    backend.add_rule([], [switch, self.values[("a", dim.name, value.key)], -self.values[("b", dim.name, value.key)]])
            if extra is not None:
                extra(backend, self)
        try:
            self.ctl.ground([("base", [])])
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"the workflow program does not ground: {exc}", self.messages) from None

    # --- literals ----------------------------------------------------------------
    def literal(self, symbol: Symbol) -> int | None:
        atom = self.ctl.symbolic_atoms[symbol]
        return atom.literal if atom is not None else None

    def flag(self, name: str) -> int | None:
        return self.literal(Function(name))

    def value(self, copy: str, dim: str, key: str) -> int:
        return self.values[(copy, dim, key)]

    def within(self, allowed: dict[str, Iterable[str]], copies: Sequence[str] = COPIES) -> list[int]:
        """Assumptions keeping each copy's dimensions within the allowed keys (absent: any value)."""
        out = []
        for name, keys in allowed.items():
            keep = set(keys)
            for copy in copies:
                out += [-self.values[(copy, name, v.key)] for v in self.space.dim(name).values if v.key not in keep]
        return out

    def tied(self, dims: Iterable[str]) -> list[int]:
        return [self.same[name] for name in dims]

    # --- solving -----------------------------------------------------------------
    @staticmethod
    def pick(model: set[Symbol], copy: str) -> dict[str, str]:
        return {a.arguments[1].string: a.arguments[2].string for a in model if a.name == "wv" and a.arguments[0].name == copy}


def dim_predicates(dim: Dim) -> frozenset[str]:
    """The input predicates a dimension's values give."""
    return frozenset(f.name for v in dim.values for f in v.facts)
