"""The knowledge base on disk: where it is, its version, its catalogue.

The KB ships inside the wheel as ``lemtrada_asp/kb`` and lives at the top of a
checkout as ``kb/``; an analyst points ``--kb`` at an edited copy. Loading goes
through clingo with a logger, so a broken rule is reported with clingo's own
message, which names the .lp file and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import clingo

from .errors import KnowledgeBaseError

ROOT_FILE = "lemtrada.lp"


def default_kb_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "kb", here.parent / "kb"):
        if (candidate / ROOT_FILE).is_file():
            return candidate
    raise KnowledgeBaseError(f"knowledge base not found: no {ROOT_FILE} in {here / 'kb'} or {here.parent / 'kb'}")


@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    section: str
    kind: str
    children: tuple[str, ...]
    order: int
    needed: str | None


@dataclass
class Catalogue:
    """What the KB says about itself: criteria, parameters, advisories, sources."""

    criteria: dict[str, Criterion]
    params: dict[str, int]
    advisories: list[tuple[str, str]]
    guideline: tuple[str, str]
    top: dict[str, list[str]] = field(default_factory=dict)

    def info(self, ident: str) -> Criterion:
        """The catalogue entry, or a placeholder for an id an edited KB left without one."""
        found = self.criteria.get(ident)
        return found or Criterion(ident, ident, "(no section in the knowledge base)", "unknown", (), 1000, None)


class KnowledgeBase:
    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_kb_dir()
        self.root = self.directory / ROOT_FILE
        if not self.root.is_file():
            raise KnowledgeBaseError(f"knowledge base not found: {self.root} does not exist")

    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.rglob("*.lp") if p.is_file())

    @cached_property
    def version(self) -> str:
        digest = hashlib.sha256()
        for path in self.files():
            digest.update(path.relative_to(self.directory).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return "sha256:" + digest.hexdigest()

    def control(self, arguments: list[str] | None = None) -> tuple[clingo.Control, list[str]]:
        """A Control with the KB loaded; the list collects clingo's messages."""
        messages: list[str] = []

        def log(code: clingo.MessageCode, text: str) -> None:
            messages.append(text.strip())

        ctl = clingo.Control(arguments or [], logger=log, message_limit=50)
        try:
            ctl.load(str(self.root))
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"knowledge base {self.root} does not load: {exc}", _errors(messages)) from None
        return ctl, messages

    @cached_property
    def catalogue(self) -> Catalogue:
        ctl, messages = self.control()
        try:
            ctl.ground([("base", [])])
        except RuntimeError as exc:
            raise KnowledgeBaseError(f"knowledge base {self.root} does not ground: {exc}", _errors(messages)) from None
        return read_catalogue(ctl)


def _errors(messages: list[str]) -> list[str]:
    # clingo's "info" lines (e.g. atoms that occur in no head) are not the cause.
    return [m for m in messages if "info:" not in m.split("\n", 1)[0]] or messages


def _facts(ctl: clingo.Control, name: str, arity: int) -> list[list[clingo.Symbol]]:
    return [a.symbol.arguments for a in ctl.symbolic_atoms.by_signature(name, arity) if a.is_fact]


def read_catalogue(ctl: clingo.Control) -> Catalogue:
    kinds = {str(i.string): str(k.name) for i, k in _facts(ctl, "node", 2)}
    children: dict[str, list[str]] = {}
    for parent, child in _facts(ctl, "child", 2):
        children.setdefault(parent.string, []).append(child.string)
    order = {i.string: n.number for i, n in _facts(ctl, "policy_order", 2)}
    needed = {i.string: t.string for i, t in _facts(ctl, "needed", 2)}
    criteria = {}
    for ident, title, section in _facts(ctl, "criterion", 3):
        cid = ident.string
        criteria[cid] = Criterion(
            id=cid,
            title=title.string,
            section=section.string,
            kind=kinds.get(cid, "unknown"),
            children=tuple(sorted(children.get(cid, []), key=criterion_sort_key)),
            order=order.get(cid, 1000),
            needed=needed.get(cid),
        )
    params = {n.name: v.number for n, v in _facts(ctl, "param", 2) if v.type == clingo.SymbolType.Number}
    advisory_order = {i.name: n.number for i, n in _facts(ctl, "advisory_order", 2)}
    advisories = sorted(
        ((i.name, t.string) for i, t in _facts(ctl, "advisory", 2)),
        key=lambda it: (advisory_order.get(it[0], 1000), it[0]),
    )
    guideline = next(((n.string, r.string) for n, r in _facts(ctl, "guideline", 2)), ("", ""))
    top: dict[str, list[str]] = {}
    for review, ident in _facts(ctl, "top", 2):
        top.setdefault(review.name, []).append(ident.string)
    for ids in top.values():
        ids.sort(key=lambda i: (order.get(i, 1000), i))
    return Catalogue(criteria, params, advisories, guideline, top)


def criterion_sort_key(ident: str) -> tuple:
    """I4.b.ii sorts after I4.b.i and before I4.b.iii: roman numerals by value."""
    romans = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
    return tuple((0, romans[p], "") if p in romans else (1, 0, p) for p in ident.split("."))
