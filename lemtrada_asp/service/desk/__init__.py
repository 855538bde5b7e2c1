"""The review desk: where a clinical reviewer reads a pended request, decides, and signs (issue 25).

Mounted by ``lemtrada-asp serve`` at /desk/ when the server has a store (the desk
reads and writes through it and through the PAS lifecycle, never around them).
Reviewers are added with ``lemtrada-asp reviewer add``; the guide is README.md here.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["mount"]


def mount(app, lifecycle, explain, kb) -> None:
    """Add the desk's routes to ``app``, over ``lifecycle``.

    ``explain(case)``: the case decided with details and corrections (the tree and the
    letters need both), where the service decides everything: in a decider process,
    bounded by --timeout and --memory (service/limits.py). ``kb``: the loaded knowledge
    base, whose quoted policy sentences the tree shows.
    """
    from ...analysis.trace import policy_sentences
    from .routes import router

    @lru_cache(maxsize=1)
    def sentences() -> dict:
        return policy_sentences(kb)

    app.include_router(router(lifecycle, explain, sentences))
