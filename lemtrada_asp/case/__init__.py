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
from .evidence import evidence as _worded  # not as `evidence`: that name is the submodule
from .facts import case_facts, case_symbols

# Imported here, not in each call: a function-level import costs each case about a
# microsecond per call (the import machinery's fromlist handling), and a batch calls
# facts and evidence for every case. pydantic stays out: validate_case imports it
# only for a case its fast path is not sure of.


class LemtradaCases:
    """Case format v1 for the engine (a lemtrada_asp.engine.CaseModel)."""

    def validate(self, data: Any, source: str) -> Any:
        validate_case = _VALIDATE_CASE or _validate_case()
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
        return case_symbols(key, case)

    def facts(self, case: Any) -> list[tuple]:
        return case_facts(case)

    def input_fields(self, predicate: str) -> tuple[str, ...]:
        """The case fields (dotted paths, ``[]`` for a list's entries) an input predicate is made
        from: engine/batch.py reads them off a case's JSON to deal cases to workers."""
        from .schema import PREDICATES

        return tuple(PREDICATES.get(predicate, ()))

    def evidence(self, symbol: Symbol, case: Any) -> Evidence:
        return _worded(symbol, case)


_VALIDATE_CASE: Any = None


def _validate_case() -> Any:
    """validation.validate_case, imported on the first case validated (it builds the fast path) and kept."""
    global _VALIDATE_CASE
    from .validation import validate_case

    _VALIDATE_CASE = validate_case
    return validate_case


CASE_MODEL = LemtradaCases()
