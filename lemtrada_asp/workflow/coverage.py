"""CRD's coverage answer, derived from the KB's decision on the facts known at order time.

The one place that says what CRD tells the EHR for a decision: the CDS Hooks
service (service/crd/) words it as a ``coverage-information`` system action, and
``check-kb --workflow`` proves it agrees with PAS (proofs.py). CRD never decides
anything itself: the KB decides the partial case the chart gives, and this maps
that decision onto the CRD 2.0.1 code lists (extension ``coverage-information``):

| decision | covered | pa-needed | doc-needed |
| --- | --- | --- | --- |
| approve | ``covered`` | ``auth-needed`` | none |
| pend, information | ``conditional`` | ``auth-needed`` | ``clinical`` |
| pend, case_by_case / state_mandate | ``conditional`` | ``auth-needed`` | ``clinical`` |
| deny | ``not-covered`` | none | none |

Lemtrada always needs prior authorisation (the plan's policy is a PA policy), so
an order that can be covered is ``auth-needed``, never ``no-auth``. A denial is
``not-covered`` with no ``pa-needed``: the IG's invariant crd-ci-q2 says "If
covered is set to 'not-covered', then 'pa-needed' should not exist" (its
FHIRPath only requires pa-needed when covered is not not-covered). An approval
needs no documentation: PAS approves on the same facts (property (a)), so its
PA request can go without a Questionnaire.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.record import Decision

__all__ = ["CRD_CODES", "CoverageAnswer", "coverage_answer"]

# The code system of every code below (CRD 2.0.1 CodeSystem "temp"; ValueSets
# coverageInfo, coveragePaDetail, AdditionalDocumentation, DocReason).
CRD_CODES = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"

COVERED, NOT_COVERED, CONDITIONAL = "covered", "not-covered", "conditional"
AUTH_NEEDED = "auth-needed"
CLINICAL = "clinical"
WITH_PA = "withpa"  # DocReason: the documentation goes with the prior-authorisation request


@dataclass(frozen=True)
class CoverageAnswer:
    """What CRD answers for one order (fields as the coverage-information extension names them)."""

    covered: str  # "covered" | "not-covered" | "conditional"
    pa_needed: str | None  # "auth-needed"; None for not-covered (crd-ci-q2)
    doc_needed: str | None  # "clinical" when documentation must come with the PA request, else None
    missing: tuple[str, ...]  # top-level criterion ids PAS would list as missing (Decision.missing), policy order
    failing: tuple[str, ...]  # deny only: failed criteria and applied exclusions (the cards), policy order
    decision: str  # "approve", "deny", or "pend:<pend_reason>", for the record
    doc_purpose: tuple[str, ...] = ()  # DocReason codes: ("withpa",) whenever doc_needed is set


def coverage_answer(decision: Decision) -> CoverageAnswer:
    """CRD's answer for a decision the KB made on the order's (partial) case."""
    missing = tuple(c.id for c in decision.missing)
    if decision.decision == "approve":
        return CoverageAnswer(COVERED, AUTH_NEEDED, None, missing, (), "approve")
    if decision.decision == "deny":
        return CoverageAnswer(NOT_COVERED, None, None, missing, tuple(c.id for c in decision.failed), "deny")
    # pend: information (criteria undocumented), case_by_case (a third or later course),
    # state_mandate (step therapy failed in a state whose law requires review): clinical
    # documentation goes with the PA request, and PAS decides on it.
    return CoverageAnswer(CONDITIONAL, AUTH_NEEDED, CLINICAL, missing, (), f"pend:{decision.pend_reason}", (WITH_PA,))
