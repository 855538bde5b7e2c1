"""One CDS Hooks call answered: each alemtuzumab order read with the chart, decided, stored, worded.

The flow for each order: the chart mapping (case/fhir/chart.read_chart) turns
the order and the prefetch into a partial case, dated the day of the call (the
day a PAS request sent now would be received); the KB decides it in a decider
process (``explain``: bounded in time and memory as every decision of the
service); workflow/coverage.coverage_answer says what CRD answers; the answer is
stored (its coverage-assertion-id) and returned as the order's
coverage-information system action, with a card for each criterion the order
cannot pass. No alemtuzumab order: nothing to say, no cards and no actions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ...case.fhir.chart import read_chart
from ...workflow.coverage import coverage_answer
from ..app import CaseInvalid
from . import answer as worded
from .hooks import HookCall

__all__ = ["Answerer"]


@dataclass
class Answerer:
    """What a worker needs to answer a call: the bounded decider, the store, the policy's sentences and name."""

    explain: Callable[[dict], Any]  # a case -> its Decision (details), in a decider process
    store: Any  # service.store.Store
    sentences: Callable[[], dict]  # criterion id -> the policy sentences the KB quotes for it
    label: str  # the policy's name and revision, the cards' source
    kb_version: str

    def answer(self, call: HookCall, client: str | None = None, today: date | None = None) -> dict:
        """The CDS Hooks response (``cards``, ``systemActions``) to one call."""
        day = today or datetime.now(UTC).date()
        cards: list[dict] = []
        actions: list[dict] = []
        for _, order in call.orders:
            chart = call.chart(order)
            case, chart_problems = read_chart(chart, anchor=day)
            case["id"] = _case_id(call.instance, order)
            case.setdefault("request", {})["date"] = day.isoformat()
            try:
                decision = self.explain(case)
            except CaseInvalid as exc:  # the order's case cannot be decided (no dose, say): said, not answered
                said = {f for f, _ in exc.problems}
                extra = [(p.field, p.message) for p in chart_problems if p.field in said]
                cards.append(worded.problem_card(extra + [p for p in exc.problems if p[0] not in {f for f, _ in extra}],
                                                 self.label))
                continue
            result = coverage_answer(decision)
            data = decision.to_json()
            assertion_id, _ = self.store.add_coverage_assertion(
                hook=call.hook, hook_instance=call.instance,
                order_ref=f"MedicationRequest/{order['id']}" if order.get("id") else None, patient=call.patient_id,
                client=client, covered=result.covered, pa_needed=result.pa_needed, doc_needed=result.doc_needed,
                decision=result.decision, missing=result.missing, failing=result.failing, case=case,
                kb_version=self.kb_version)
            extension = worded.coverage_information(result, data, coverage=worded.coverage_reference(order, chart),
                                                    assertion_id=assertion_id, day=day.isoformat())
            actions.append(worded.system_action(order, extension, result))
            cards += worded.cards(result, data, self.sentences(), self.label)
        response: dict = {"cards": cards}
        if actions:
            response["systemActions"] = actions
        return response


def _case_id(instance: str, order: dict) -> str:
    """A case id of the case format's characters: the hook instance and the order's id."""
    text = f"crd-{instance}-{order.get('id') or 'order'}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)[:200]
