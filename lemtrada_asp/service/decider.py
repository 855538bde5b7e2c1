"""The loaded policy behind the service: case dict in, decision object out.

The only module of the service that calls the engine (through the public
Policy API); everything else works on the case and decision formats. One
Decider per worker process, made once at start, so no request loads the KB
or derives the decision cache.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..engine.cache import cache_for
from ..engine.errors import InputError
from ..engine.policy import Policy
from .app import CaseInvalid, not_a_case

__all__ = ["Decider", "tool_version"]


def tool_version() -> str:
    try:
        return version("lemtrada-asp")
    except PackageNotFoundError:  # run from a checkout that was never installed
        from .. import __version__

        return __version__


class Decider:
    def __init__(self, kb_dir: str | Path | None = None):
        self.policy = Policy.load(kb_dir)
        # Derived now, not on the second request: the decision cache's derivation takes
        # about a second, which no request should wait for.
        cache_for(self.policy.engine)
        self.kb_version = self.policy.version
        self.kb_root = self.policy.kb.root
        self.tool_version = tool_version()

    def validate(self, case: Any, source: str = "request") -> Any:
        """The validated case; CaseInvalid (field, message) problems otherwise."""
        try:
            return self.policy.validate(case, source)
        except InputError as exc:
            raise CaseInvalid([(p.field, p.message) for p in exc.problems], exc.case_id) from None

    def decide(self, case: dict, source: str = "request", corrections: bool = False) -> dict:
        """The decision object of one parsed case (a JSON object), without ``source``.

        The service's narrow entry to the engine: it takes a dict and nothing else.
        ``Policy.decide`` also takes a path (and reads that file), which is right for
        an embedding program and wrong for a network input, so anything but a dict is
        CaseInvalid here and the case reaches the Policy only once validated.

        With corrections it is what ``decide --format json`` prints by default (its
        corrections computed by clingo); without, the decision format's fields only.
        """
        if not isinstance(case, dict):
            raise CaseInvalid([("", not_a_case(case))], None)
        validated = self.validate(case, source)
        decision = self.policy.decide(validated, source=source, corrections=corrections).to_json()
        decision.pop("source", None)
        return decision
