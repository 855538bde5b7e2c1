"""``GET /cds-services``: the two CRD services and what they ask the EHR to prefetch (CDS Hooks 2.0 "Discovery").

The prefetch templates are the chart mapping's own (case/fhir/chart.CONTEXTS):
the resources its entries read, nothing more, so what is asked for is what is
used. The order itself travels in ``context.draftOrders``.
"""

from __future__ import annotations

from ...case.fhir.chart import CONTEXTS
from .hooks import SERVICES

__all__ = ["discovery", "prefetch"]

TEXT = {
    "order-select": ("Lemtrada coverage requirements (order-select)",
                     ("Coverage requirements for a MedicationRequest of alemtuzumab (Lemtrada, RxNorm/NDC, HCPCS J0202) "
                      "as it is selected: covered, prior authorization and documentation needed, from the plan's policy.")),
    "order-sign": ("Lemtrada coverage requirements (order-sign)",
                   ("Coverage requirements for a signed MedicationRequest of alemtuzumab (Lemtrada): the coverage-information "
                    "of the order, and a card for each policy criterion the order itself cannot pass.")),
}


def prefetch() -> dict[str, str]:
    """Prefetch key -> CDS Hooks template, for every launch context the mapping reads."""
    return {key: template for context in CONTEXTS.values() for key, template in context.templates}


def discovery() -> dict:
    """The discovery response: one service per hook."""
    services = []
    for service_id, hook in SERVICES.items():
        title, description = TEXT[hook]
        services.append({"hook": hook, "id": service_id, "title": title, "description": description,
                         "prefetch": prefetch()})
    return {"services": services}
