"""What a knowledge base says about itself: criteria, parameters, texts, advisories.

Read once from the ground base program (facts only), so the catalogue is what the
KB says, not a copy of it. Texts may name parameters: ``{min_age}`` or a
product ``{dose*days}``; they are filled in here from
``param/2``, so a changed threshold changes every text that states it.

>>> fill("at least {a} months, {a*b} in all", {"a": 12, "b": 3})
'at least 12 months, 36 in all'
>>> criterion_sort_key("A1.b.ii") < criterion_sort_key("A1.b.iii")
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Mapping

import clingo

from .errors import KnowledgeBaseError

if TYPE_CHECKING:
    from .manifest import Manifest

__all__ = ["Catalogue", "Criterion", "at_least", "criterion_sort_key", "fill", "kind_words", "read_catalogue"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\*[A-Za-z_][A-Za-z0-9_]*)*)\}")


def fill(text: str, params: Mapping[str, int]) -> str:
    """Fill ``{name}`` and ``{a*b}`` placeholders from the parameters."""

    def value(match: re.Match[str]) -> str:
        product = 1
        for name in match.group(1).split("*"):
            if name not in params:
                raise KnowledgeBaseError(f"text {text!r} names parameter {name!r}, which param/2 does not define")
            product *= params[name]
        return str(product)

    return _PLACEHOLDER.sub(value, text)


@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    section: str
    kind: str
    children: tuple[str, ...]
    order: int
    needed: str | None
    change: str | None = None  # what would have to be true for it to be met (corrections)

    @property
    def at_least(self) -> int | None:
        """N of an at_least(N) node, else None."""
        return at_least(self.kind)


def at_least(kind: str) -> int | None:
    """N of the node kind ``at_least(N)``, else None.

    >>> at_least("at_least(2)"), at_least("any_of")
    (2, None)
    """
    found = re.fullmatch(r"at_least\((\d+)\)", kind)
    return int(found.group(1)) if found else None


def kind_words(kind: str) -> str:
    """A node kind for a reader: all of, any of, at least 2 of, leaf, exclusion.

    >>> kind_words("at_least(2)"), kind_words("all_of")
    ('at least 2 of', 'all of')
    """
    n = at_least(kind)
    if n is not None:
        return f"at least {n} of"
    return kind.replace("_", " ")


@dataclass(frozen=True)
class Catalogue:
    criteria: Mapping[str, Criterion]
    params: Mapping[str, int]
    advisories: tuple[tuple[str, str], ...]
    guideline: tuple[str, str]
    top: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    grant_order: Mapping[str, int] = field(default_factory=dict)
    targets: frozenset[tuple[str, str]] = frozenset()

    def info(self, ident: str) -> Criterion:
        """The catalogue entry, or a placeholder for an id an edited KB left without one."""
        found = self.criteria.get(ident)
        return found or Criterion(ident, ident, "(no section in the knowledge base)", "unknown", (), 1000, None)

    def in_policy_order(self, ids: Any) -> list[str]:
        return sorted(ids, key=lambda i: (self.info(i).order, i))

    def top_of(self, ident: str) -> str:
        """The top-level criterion (or exclusion) that ident is part of."""
        parent = self._parents.get(ident)
        while parent is not None:
            ident, parent = parent, self._parents.get(parent)
        return ident

    @cached_property
    def _parents(self) -> dict[str, str]:
        return {child: c.id for c in self.criteria.values() for child in c.children}

    def exclusions(self) -> list[str]:
        return self.in_policy_order(c.id for c in self.criteria.values() if c.kind == "exclusion")


def _facts(ctl: clingo.Control, name: str, arity: int) -> list[list[clingo.Symbol]]:
    return [a.symbol.arguments for a in ctl.symbolic_atoms.by_signature(name, arity) if a.is_fact]


def read_catalogue(ctl: clingo.Control, manifest: "Manifest") -> Catalogue:
    params = {n.name: v.number for n, v in _facts(ctl, "param", 2) if v.type == clingo.SymbolType.Number}
    kinds = {str(i.string): str(k) for i, k in _facts(ctl, "node", 2)}  # leaf, all_of, ..., at_least(2)
    children: dict[str, list[str]] = {}
    for parent, child in _facts(ctl, "child", 2):
        children.setdefault(parent.string, []).append(child.string)
    order = {i.string: n.number for i, n in _facts(ctl, "policy_order", 2)}
    needed = {i.string: fill(t.string, params) for i, t in _facts(ctl, "needed", 2)}
    changes = {i.string: fill(t.string, params) for i, t in _facts(ctl, "change_text", 2)}
    criteria = {}
    for ident, title, section in _facts(ctl, "criterion", 3):
        cid = ident.string
        criteria[cid] = Criterion(
            id=cid,
            title=fill(title.string, params),
            section=section.string,
            kind=kinds.get(cid, "unknown"),
            children=tuple(sorted(children.get(cid, []), key=criterion_sort_key)),
            order=order.get(cid, 1000),
            needed=needed.get(cid),
            change=changes.get(cid),
        )
    advisory_order = {i.name: n.number for i, n in _facts(ctl, "advisory_order", 2)}
    advisories = tuple(
        sorted(
            ((i.name, fill(t.string, params)) for i, t in _facts(ctl, "advisory", 2)),
            key=lambda it: (advisory_order.get(it[0], 1000), it[0]),
        )
    )
    top: dict[str, list[str]] = {}
    for review, ident in _facts(ctl, "top", 2):
        top.setdefault(review.name, []).append(ident.string)
    return Catalogue(
        criteria=criteria,
        params=params,
        advisories=advisories,
        guideline=(manifest.name, manifest.revised),
        top={r: tuple(sorted(ids, key=lambda i: (order.get(i, 1000), i))) for r, ids in top.items()},
        grant_order={f.name: n.number for f, n in _facts(ctl, "grant_field", 2)},
        targets=frozenset((d.name, r.name) for d, r in _facts(ctl, "correction_target", 2)),
    )


_ROMANS = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}


@lru_cache(maxsize=4096)  # a KB has a few dozen ids, sorted again for every explained case
def criterion_sort_key(ident: str) -> tuple:
    """A1.b.ii sorts after A1.b.i and before A1.b.iii: roman numerals by value."""
    return tuple((0, _ROMANS[p], "") if p in _ROMANS else (1, 0, p) for p in ident.split("."))
