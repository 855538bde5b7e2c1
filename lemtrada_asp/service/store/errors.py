"""The store's errors, in the project's one hierarchy (engine/errors.py)."""

from __future__ import annotations

from ...engine.errors import LemtradaError

__all__ = ["StoreError", "StateError", "Conflict"]


class StoreError(LemtradaError):
    """The database cannot be reached, opened or migrated: ``serve`` exits 2 with this message."""

    exit_status = 2


class StateError(StoreError):
    """A move the state table does not allow, or a request that moved under us (another server won)."""


class Conflict(StoreError):
    """A request with this Claim.identifier is already stored (another server stored it first)."""

    def __init__(self, identifier_key: str):
        super().__init__(f"a request with identifier {identifier_key} is already stored")
        self.identifier_key = identifier_key
