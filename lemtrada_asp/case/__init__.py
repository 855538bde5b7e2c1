"""The Lemtrada policy's case model: case format v1 (schema.py, model.py), its facts
(facts.py, dates.py) and the wording of its evidence (evidence.py).

``CASE_MODEL`` is what kb/policy.toml names; the engine reaches this package only
through it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from clingo import Symbol

from ..engine.record import Evidence


class LemtradaCases:
    """Case format v1 for the engine (a lemtrada_asp.engine.CaseModel)."""

    def validate(self, data: Any, source: str) -> Any:
        from .validation import validate_case

        if isinstance(data, dict) and "resourceType" in data:  # a FHIR resource, not a case (fhir-pas.md)
            from .pas.reader import read_resource

            return read_resource(data, source, validate_case)
        return validate_case(data, source)

    def case_id(self, case: Any) -> str:
        return case.id

    def request_date(self, case: Any) -> date:
        """The date a policy version must be in force on to judge the case."""
        return case.request.date

    def symbols(self, key: int, case: Any) -> list[Symbol]:
        from .facts import case_symbols

        return case_symbols(key, case)

    def facts(self, case: Any) -> list[tuple]:
        from .facts import case_facts

        return case_facts(case)

    def evidence(self, symbol: Symbol, case: Any) -> Evidence:
        from .evidence import evidence

        return evidence(symbol, case)


CASE_MODEL = LemtradaCases()
