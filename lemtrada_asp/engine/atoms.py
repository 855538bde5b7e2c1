"""Reading atoms back from clingo, once per atom.

A symbol's name and arguments are several calls into clingo each time they are
read (about 8 µs for an atom of three arguments here). A batch reads the same
atoms again and again: a chunk's case keys are 0 to 199, and cases repeat the
same criteria and statuses. So each atom is read once and remembered by the
symbol (a lookup is about 0.7 µs). The memo holds at most ``KEPT`` atoms and
starts again when full: memory stays bounded on any input length.

>>> from clingo import Function, Number, String
>>> read(Function("status", [Number(0), String("A1"), Function("met")]))
('status', (Number(0), String('A1'), Function('met', [], True)))
"""

from __future__ import annotations

from clingo import Symbol

__all__ = ["KEPT", "read"]

KEPT = 20_000  # atoms remembered (a few hundred bytes each)

_read: dict[Symbol, tuple[str, tuple[Symbol, ...]]] = {}


def read(atom: Symbol) -> tuple[str, tuple[Symbol, ...]]:
    """The atom's name and arguments (a tuple: shared, so never to be changed)."""
    found = _read.get(atom)
    if found is None:
        if len(_read) >= KEPT:
            _read.clear()
        found = _read[atom] = (atom.name, tuple(atom.arguments))
    return found
