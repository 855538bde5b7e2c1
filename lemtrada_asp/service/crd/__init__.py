"""CRD (Da Vinci Coverage Requirements Discovery 2.0.1) for Lemtrada orders: a CDS Hooks 2.0 service.

``mount(app, ...)`` adds ``GET /cds-services`` and ``POST /cds-services/{id}``
(routes.py) to the service's app when it has a store (CRD keeps every answer it
gives: its coverage-assertion-id). A call is read (hooks.py), each alemtuzumab
order's chart is mapped to a partial case (case/fhir/chart.py), decided in the
bounded decider processes, answered as CRD's coverage-information and cards
(answer.py, service.py). The guide: service/CRD.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["mount"]


def mount(app, explain: Callable[[dict], Any], read_and, authorize, store, kb, kb_version: str) -> None:
    """Add the CRD routes to ``app``: ``explain`` decides (bounded), ``store`` keeps the answers, ``kb`` is quoted."""
    from ...analysis.trace import policy_sentences
    from ..app import _in_thread
    from .answer import source_label
    from .routes import router
    from .service import Answerer

    @lru_cache(maxsize=1)
    def sentences() -> dict:
        return policy_sentences(kb) if kb is not None else {}

    import threading

    threading.Thread(target=sentences, name="crd-sentences", daemon=True).start()  # read once, not on the first call
    label = source_label((kb.manifest.name, kb.manifest.revised)) if kb is not None else "the plan's Lemtrada policy"
    app.include_router(router(Answerer(explain, store, sentences, label, kb_version), read_and, authorize, _in_thread))
