"""Reading clingo symbols back: every reader of a symbol's parts, each read once per symbol.

A symbol's name and arguments are several calls into clingo each time they are
read (about 8 µs for an atom of three arguments here). A batch reads the same
atoms again and again: a chunk's case keys are 0 to 199, and cases repeat the
same criteria and statuses. So each is read once and remembered by the symbol
(a lookup is about 0.7 µs), in a table of at most ``KEPT`` entries that starts
again when full: memory stays bounded on any input length.

>>> from clingo import Function, Number, String
>>> read(Function("status", [Number(0), String("A1"), Function("met")]))
('status', (Number(0), String('A1'), Function('met', [], True)))
>>> plain(Number(3)), plain(String("A1")), plain(Function("met"))
(3, 'A1', 'met')
>>> id_text(String("A1")), id_text(Function("met"))
('A1', 'met')
"""

from __future__ import annotations

from typing import Callable, TypeVar

from clingo import Symbol, SymbolType

__all__ = ["KEPT", "id_text", "plain", "read", "remembered"]

KEPT = 20_000  # symbols remembered per table (a few hundred bytes each)

T = TypeVar("T")


def remembered(table: dict[Symbol, T], symbol: Symbol, make: Callable[[Symbol], T], kept: int = KEPT) -> T:
    """make(symbol), computed once while the symbol is in table (at most kept entries)."""
    found = table.get(symbol)
    if found is None:
        if len(table) >= kept:
            table.clear()
        found = table[symbol] = make(symbol)
    return found


_read: dict[Symbol, tuple[str, tuple[Symbol, ...]]] = {}
_texts: dict[Symbol, str] = {}


def read(atom: Symbol) -> tuple[str, tuple[Symbol, ...]]:
    """The atom's name and arguments (a tuple: shared, so never to be changed)."""
    found = _read.get(atom)  # the common case inline: this is on every atom read back
    return found if found is not None else remembered(_read, atom, lambda a: (a.name, tuple(a.arguments)))


def id_text(symbol: Symbol) -> str:
    """A criterion id (or status) as text: a string's own text, any other term as clingo prints it."""
    return remembered(_texts, symbol, lambda s: s.string if s.type == SymbolType.String else str(s))


def plain(term: Symbol) -> int | str:
    """A number as an int, a string as its text, any other term as clingo prints it (a constant: its name)."""
    kind = term.type
    if kind == SymbolType.Number:
        return term.number
    if kind == SymbolType.String:
        return term.string
    return str(term)
