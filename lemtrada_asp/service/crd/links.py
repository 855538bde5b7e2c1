"""A PAS request's link to its CRD answer: the ``coverage-assertion-id`` and ``satisfied-pa-id`` it carries.

PAS 2.x carries CRD's coverage information on the requested order itself: the
PAS MedicationRequest profile (2.0.1 and 2.2.1) has the slice
``MedicationRequest.extension:coverage`` of type ``ext-coverage-information``,
whose ``coverage-assertion-id`` names the CRD answer the order was given and
``satisfied-pa-id`` the prior authorisation that already satisfies it. Each is
read from every resource of the request Bundle that carries the extension.

An id this server issued is linked to the request (stored with it, in the same
transaction); an id it did not issue is not linked, and the request is decided
as usual: neither IG says what a payer does with an id it does not know, so the
ClaimResponse says so in a ``processNote`` (PAS 2.2.1: ``processNote`` is
must-support, number and text required). A link made is stated there too, so
``$inquire`` (which answers the stored ClaimResponse) shows it.
"""

from __future__ import annotations

from typing import Any

from .answer import COVERAGE_INFORMATION

__all__ = ["ASSERTION", "SATISFIED", "carried_ids", "link"]

ASSERTION, SATISFIED = "coverage-assertion-id", "satisfied-pa-id"
MAX_IDS = 20  # ids read from one request (one per ordered item at most, in practice)


def carried_ids(bundle: dict) -> list[tuple[str, str, str]]:
    """(kind, value, FHIRPath) of every coverage-assertion-id and satisfied-pa-id in the request Bundle."""
    found: list[tuple[str, str, str]] = []
    for i, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        for k, ext in enumerate(resource.get("extension") or []):
            if not isinstance(ext, dict) or ext.get("url") != COVERAGE_INFORMATION:
                continue
            for j, sub in enumerate(ext.get("extension") or []):
                value = sub.get("valueString") if isinstance(sub, dict) else None
                if sub.get("url") in (ASSERTION, SATISFIED) and isinstance(value, str) and value.strip():
                    found.append((sub["url"], value.strip()[:128],
                                  f"Bundle.entry[{i}].resource.extension[{k}].extension[{j}].valueString"))
    return found[:MAX_IDS]


def _known(store: Any, kind: str, value: str) -> str | None:
    """What the id names, in words, when this server issued it; None otherwise."""
    if kind == ASSERTION:
        found = store.coverage_assertion(value)
        if found is None:
            return None
        return (f"the CRD answer this server gave on {found['created_at'][:10]} to the {found['hook']} hook "
                f"(covered: {found['covered']}{', ' + found['pa_needed'] if found['pa_needed'] else ''}"
                f"{', documentation: ' + found['doc_needed'] if found['doc_needed'] else ''})")
    found = store.authorisation(value)
    if found is None:
        return None
    return f"the authorisation {value} this server issued ({found['status']})"


def link(store: Any, bundle: dict, answer: dict) -> list[tuple[str, str]]:
    """The (kind, value) links to store with the request; each id, linked or not, noted on the answer's ClaimResponse."""
    links: list[tuple[str, str]] = []
    notes: list[str] = []
    for kind, value, where in carried_ids(bundle):
        named = _known(store, kind, value)
        if named is None:
            notes.append(f"{where}: the {kind} {value!r} names nothing this server issued; the request was decided as "
                         f"usual and is not linked to it")
        elif (kind, value) not in links:
            links.append((kind, value))
            notes.append(f"{kind} {value}: this request is linked to {named}")
    if notes:
        response = answer["entry"][0]["resource"]
        existing = response.get("processNote") or []
        start = max((n.get("number", 0) for n in existing), default=0) + 1
        response["processNote"] = [*existing, *({"number": start + n, "type": "display", "text": text}
                                                for n, text in enumerate(notes))]
    return links
