"""Which drug codes name Lemtrada: the KB's medication vocabulary (kb/medication_codes.toml).

A PAS request can code the drug line by NDC instead of HCPCS J0202, and its
MedicationRequest names a drug by RxNorm or NDC. Which codes are Lemtrada's is
data with a source, kept in the KB next to the policy it serves, so a new
package NDC is an edit there, not here (fhir-pas.md, version 2, "Lines" and
"What must not be ignored").
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ...engine.errors import KnowledgeBaseError

__all__ = ["MEDICATION_FILE", "MedicationCodes", "medication_codes"]

MEDICATION_FILE = "medication_codes.toml"


@dataclass(frozen=True)
class MedicationCodes:
    """Lemtrada's codes by code system, and the HCPCS code its NDCs cross-walk to."""

    by_system: dict[str, frozenset[str]]
    ndc_system: str
    ndc_hcpcs: str
    infusion: frozenset[tuple[str, str]]  # (system, code) of the infusion lines
    sources: dict[str, str]

    def names_lemtrada(self, coding: dict) -> bool | None:
        """True: a Lemtrada code; False: another drug in a listed system; None: a system not listed (not read)."""
        codes = self.by_system.get(coding.get("system"))
        if codes is None or not coding.get("code"):
            return None
        return coding["code"] in codes

    def crosswalk(self, coding: dict) -> str | None:
        """The HCPCS code of a Lemtrada NDC coding (J0202), else None."""
        if coding.get("system") == self.ndc_system and coding.get("code") in self.by_system[self.ndc_system]:
            return self.ndc_hcpcs
        return None

    def is_infusion(self, coding: dict) -> bool:
        """An administration code of the policy's Table 1 (CPT 96365, 96366)."""
        return (coding.get("system"), coding.get("code")) in self.infusion


@lru_cache(maxsize=8)
def medication_codes(kb_dir: str | Path | None = None) -> MedicationCodes:
    """The vocabulary of the KB at kb_dir (default: the shipped KB); KnowledgeBaseError when unreadable."""
    from ...engine.knowledge import default_kb_dir

    path = Path(kb_dir or default_kb_dir()) / MEDICATION_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        drugs = [data["rxnorm"], data["ndc"]]
        by_system = {table["system"]: frozenset(entry["code"] for entry in table["codes"]) for table in drugs}
        infusion = frozenset((system, code) for system in data["infusion"]["systems"] for code in data["infusion"]["codes"])
        return MedicationCodes(by_system, data["ndc"]["system"], data["ndc"]["hcpcs"], infusion,
                               {name: table["source"] for name, table in data.items()})
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise KnowledgeBaseError(f"{path}: not a readable medication vocabulary: {exc}") from None
