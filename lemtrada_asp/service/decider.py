"""The loaded policy behind the service: case dict in, decision object out.

The only module of the service that knows the engine's API; everything else
works on the case and decision formats. One Decider per worker process, made
once at start, so no request loads the KB.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..engine import Engine
from ..errors import CaseValidationError
from ..kbase import KnowledgeBase
from ..model import validate_case
from .app import CaseInvalid


def tool_version() -> str:
    try:
        return version("lemtrada-asp")
    except PackageNotFoundError:
        return "0+unknown"


class Decider:
    def __init__(self, kb_dir: str | Path | None = None):
        self.engine = Engine(KnowledgeBase(kb_dir))
        self.kb_version = self.engine.version
        self.kb_root = self.engine.kb.root
        self.tool_version = tool_version()

    def decide(self, case: dict, source: str = "request") -> dict:
        try:
            valid = validate_case(case, source)
        except CaseValidationError as exc:
            raise CaseInvalid([(p.field, p.message) for p in exc.problems], exc.case_id) from None
        decision = self.engine.decide([(source, valid)])[0].as_json()
        decision.pop("source", None)
        return decision
