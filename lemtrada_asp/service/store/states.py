"""The states of a stored prior-authorisation request, and the only moves between them.

A request's state moves forward only: from the first answer to a final state, never
back. The table is the one the guide (service/PAS.md, "Lifecycle and store") shows;
``move`` in the repository refuses every move it does not list.

    (new)     -> pended | approved | denied | error | cancelled   its own answer
    pended    -> approved | denied | replaced | cancelled       a reviewer, an update
    pended    -> pended                                         a reviewer asking for more records
    approved  -> replaced | cancelled                           an update
    denied    -> replaced                                       an update (a new request)
    replaced, cancelled, error                                  final
"""

from __future__ import annotations

__all__ = ["NEW", "PENDED", "APPROVED", "DENIED", "ERROR", "REPLACED", "CANCELLED", "STATES", "MOVES", "allowed",
           "FINAL"]

NEW = "new"  # not a stored state: the "from" of a request's first move
PENDED, APPROVED, DENIED, ERROR, REPLACED, CANCELLED = "pended", "approved", "denied", "error", "replaced", "cancelled"
STATES = (PENDED, APPROVED, DENIED, ERROR, REPLACED, CANCELLED)
FINAL = frozenset({ERROR, REPLACED, CANCELLED})

MOVES: dict[str, frozenset[str]] = {
    NEW: frozenset({PENDED, APPROVED, DENIED, ERROR, CANCELLED}),
    PENDED: frozenset({PENDED, APPROVED, DENIED, REPLACED, CANCELLED}),  # pended again: a reviewer asked for records
    APPROVED: frozenset({REPLACED, CANCELLED}),
    DENIED: frozenset({REPLACED}),
    ERROR: frozenset(),
    REPLACED: frozenset(),
    CANCELLED: frozenset(),
}


def allowed(source: str, target: str) -> bool:
    """Whether a request in ``source`` may move to ``target``."""
    return target in MOVES.get(source, frozenset())
