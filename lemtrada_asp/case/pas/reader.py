"""A FHIR resource where a case was expected: the one reader ``decide`` and ``$submit`` share.

``decide`` hands every parsed input to the case model; an object with a
``resourceType`` is not a case (case files have no such field) but a FHIR
resource, and only a PAS request Bundle can be read as one. Its problems become
input errors whose fields are the FHIRPaths of fhir-pas.md, so ``decide``
reports ``FILE: FHIRPATH: message`` (exit 2).
"""

from __future__ import annotations

from typing import Any, Callable

from ...engine.errors import InputError, Problem


def read_resource(data: dict, source: str, validate: Callable[[Any, str], Any]) -> Any:
    """The validated case of a PAS request Bundle; InputError for any other resource or a bad Bundle."""
    if data.get("resourceType") != "Bundle":
        raise InputError(source, [Problem("resourceType", f"expected a case (no resourceType) or a PAS request Bundle, "
                                                          f"got resourceType {str(data.get('resourceType'))[:60]!r}")])
    try:
        from .fhir_in import BundleError, read_request
    except ImportError as exc:  # fhir.resources is the optional [service] extra
        raise InputError(source, [Problem("", f"reading a FHIR Bundle needs the service extra "
                                              f"(pip install 'lemtrada-asp[service]'): {exc}")]) from None
    try:
        return read_request(data, source, validate)[1]
    except BundleError as exc:
        raise InputError(source, [Problem(p.expression or "", p.message) for p in exc.problems], exc.case_id) from None
