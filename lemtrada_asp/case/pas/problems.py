"""Problems with a request Bundle, each at a FHIRPath from the Bundle.

The service answers them as OperationOutcome issues and ``decide`` as input
errors, so one problem carries what both need: where (a FHIRPath with 0-based
indexes on every list, or None when the body is not a Bundle at all), the FHIR
issue code, and a message saying what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PROBLEMS = 20  # issues per OperationOutcome (fhir-pas.md, "Errors")


@dataclass(frozen=True)
class FhirProblem:
    expression: str | None
    code: str  # structure | required | invalid | not-supported; for a business error its X12 901 code
    message: str

    def __str__(self) -> str:
        return f"{self.expression}: {self.message}" if self.expression else self.message


class BundleError(ValueError):
    """A request Bundle that cannot be read into a case; ``problems`` says why."""

    def __init__(self, problems: list[FhirProblem], case_id: str | None = None):
        self.problems = problems[:MAX_PROBLEMS]
        self.case_id = case_id
        super().__init__("; ".join(map(str, self.problems)))


class BusinessError(BundleError):
    """A readable PAS request that cannot be decided (fhir-pas.md, version 2, "Business errors").

    Answered 200 with a ClaimResponse whose ``outcome`` is ``error``; each problem's
    ``code`` is an X12 901 reject reason code (AAA03) and its expression the
    element it is about. ``decide`` reports it as any other input error.
    """


# X12 901 (Reject Reason Code, AAA03) codes of the business errors.
REQUIRED_DATA_MISSING = "15"  # Required Application Data Missing
INPUT_ERRORS = "33"  # Input Errors
INAPPROPRIATE_DATE = "56"  # Inappropriate Date
PROCEDURE_CODE = "AG"  # Invalid/Missing Procedure Code(s)
AUTHORIZATION_NOT_FOUND = "AA"  # Authorization Number Not Found


class Problems(list):
    """Problems collected while reading, so one answer reports all of them (up to the cap).

    ``business`` holds the business errors: they are answered only when the request
    is otherwise readable (a problem of ``add`` wins: the request is then not read).
    """

    def __init__(self) -> None:
        super().__init__()
        self.business: list[FhirProblem] = []

    def add(self, expression: str | None, code: str, message: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(FhirProblem(expression, code, message))

    def reject(self, expression: str | None, x12: str, message: str) -> None:
        """A business error: the request is readable but cannot be decided."""
        if len(self.business) < MAX_PROBLEMS:
            self.business.append(FhirProblem(expression, x12, message))

    def raise_if_any(self, case_id: str | None = None) -> None:
        if self:
            raise BundleError(list(self), case_id)
        if self.business:
            raise BusinessError(list(self.business), case_id)


def child(path: str, *parts: str | int) -> str:
    """``Bundle.entry[0].resource`` + ``"item", 0`` -> ``...resource.item[0]``."""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
