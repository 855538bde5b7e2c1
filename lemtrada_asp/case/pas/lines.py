"""The lines of a PAS Claim (fhir-pas.md, version 2, "Lines" and "Quantity").

A real request carries the drug and its administration as separate lines (the
policy's Table 1 lists J0202 and the infusion codes 96365/96366 together). One
line is the drug -- HCPCS J0202, or a Lemtrada NDC cross-walked to it -- and is
decided; infusion lines follow its action; any other line is answered as not
reviewed under this policy. Every line is kept, with where it is, so that the
ClaimResponse can answer each item it was asked about.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .ids import HCPCS, LEMTRADA_HCPCS
from .medication import MedicationCodes
from .problems import PROCEDURE_CODE, Problems, child

__all__ = ["DRUG", "INFUSION", "OTHER", "Line", "classify", "INFO_CANCELLED", "is_cancelled"]

DRUG, INFUSION, OTHER = "drug", "infusion", "other"
# PAS 2.x's one modifier extension: on Claim.item, valueBoolean true withdraws the line (an update).
INFO_CANCELLED = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled"


def is_cancelled(item: dict) -> bool:
    """PAS marks a withdrawn line of an update with the modifierExtension infoCancelled true."""
    return any(e.get("url") == INFO_CANCELLED and e.get("valueBoolean") is True for e in item.get("modifierExtension") or [])


@dataclass(frozen=True)
class Line:
    """One Claim.item: its position, FHIRPath, kind and the coding that made it so."""

    index: int
    item: dict
    path: str
    kind: str  # drug | infusion | other
    coding: dict | None  # the J0202 / NDC / infusion coding; None for another line

    @property
    def sequence(self) -> Any:
        return self.item.get("sequence")

    @property
    def quantity(self) -> dict | None:
        q = self.item.get("quantity")
        return q if isinstance(q, dict) and q.get("value") is not None else None

    @property
    def cancelled(self) -> bool:
        return is_cancelled(self.item)

    @property
    def by_ndc(self) -> bool:
        return self.kind == DRUG and (self.coding or {}).get("system") != HCPCS


def classify(claim: dict, claim_path: str, vocabulary: MedicationCodes, problems: Problems) -> list[Line]:
    """Every item as a Line; a business error unless exactly one is the drug line."""
    lines = []
    for i, item in enumerate(claim.get("item") or []):
        codings = (item.get("productOrService") or {}).get("coding") or []
        kind, chosen = OTHER, None
        for coding in codings:
            if coding.get("system") == HCPCS and coding.get("code") == LEMTRADA_HCPCS or vocabulary.crosswalk(coding):
                kind, chosen = DRUG, coding
                break
            if vocabulary.is_infusion(coding) and kind == OTHER:
                kind, chosen = INFUSION, coding
        lines.append(Line(i, item, child(claim_path, "item", i), kind, chosen))
    drugs = [line for line in lines if line.kind == DRUG]
    if not drugs:
        problems.reject(child(claim_path, "item"), PROCEDURE_CODE,
                        f"no drug line: expected one item coded HCPCS {LEMTRADA_HCPCS} (Injection, alemtuzumab, 1 mg) "
                        f"or a Lemtrada NDC")
    for extra in drugs[1:]:
        problems.reject(child(extra.path, "productOrService"), PROCEDURE_CODE,
                        f"a second drug line (item sequence {extra.sequence}); expected exactly one alemtuzumab line "
                        f"(the first is item sequence {drugs[0].sequence})")
    return lines


def drug_line(lines: list[Line]) -> Line | None:
    return next((line for line in lines if line.kind == DRUG), None)


MG_PER_ML = Decimal(10)  # Lemtrada is 10 mg/mL (12 mg/1.2 mL vial; kb/medication_codes.toml, its label)
MG_PER_NDC_UNIT = Decimal(12)  # one NDC unit of Lemtrada is one 12 mg vial


def quantity_mg(line: Line) -> Decimal | None:
    """The drug line's requested quantity in mg (= J0202 units), None when it states none.

    A J0202 line counts HCPCS units (1 mg each); an NDC line counts NDC units
    (vials), unless its unit is mg or mL.
    """
    q = line.quantity
    if q is None:
        return None
    value = Decimal(str(q["value"]))
    unit = (q.get("code") or q.get("unit") or "").lower()
    if unit == "mg":
        return value
    if unit == "ml":
        return value * MG_PER_ML
    return value * MG_PER_NDC_UNIT if line.by_ndc else value
