"""The review desk: where a clinical reviewer reads a pended request, decides, and signs (issue 25).

Mounted by ``lemtrada-asp serve`` at /desk/ when the server has a store (the desk
reads and writes through it and through the PAS lifecycle, never around them).
Reviewers are added with ``lemtrada-asp reviewer add``; the guide is README.md here.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

__all__ = ["mount"]


def mount(app, lifecycle, decider, lock: threading.Lock) -> None:
    """Add the desk's routes to ``app``: over ``lifecycle``, explaining cases with ``decider``'s policy under ``lock``."""
    from ...render.html import policy_sentences
    from .routes import router

    def explain(case: dict) -> Any:
        """The case decided with details and corrections (the tree and the letters need both)."""
        validated = decider.validate(case)
        with lock:  # one engine per worker: its decisions are taken one at a time
            return decider.policy.decide(validated, corrections=True, details=True)

    @lru_cache(maxsize=1)
    def sentences() -> dict:
        return policy_sentences(decider.policy.kb)

    app.include_router(router(lifecycle, explain, sentences))
