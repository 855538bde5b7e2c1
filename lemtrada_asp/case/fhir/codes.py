"""The standard codes a chart is read by (kb/chart_codes.toml): MS's ICD-10-CM codes, DMTs' RxNorm codes.

Data with a source, kept in the KB next to the policy, as the drug codes of PAS
requests are (case/pas/medication.py): a new code is an edit there, not here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ...engine.errors import KnowledgeBaseError

__all__ = ["CHART_CODES_FILE", "ChartCodes", "MsCode", "chart_codes"]

CHART_CODES_FILE = "chart_codes.toml"


@dataclass(frozen=True)
class MsCode:
    code: str
    display: str
    ms_course: str | None  # case-format diagnosis.ms_course, None: the code does not say
    active: bool | None    # diagnosis.active, None: the code does not say


@dataclass(frozen=True)
class ChartCodes:
    icd10cm: str
    ms: tuple[MsCode, ...]
    rxnorm: str
    dmts: tuple[tuple[str, str], ...]  # (RxNorm code, case-format DMT name)


@lru_cache(maxsize=8)
def chart_codes(kb_dir: str | Path | None = None) -> ChartCodes:
    """The codes of the KB at kb_dir (default: the shipped KB); KnowledgeBaseError when unreadable."""
    from ...engine.knowledge import default_kb_dir

    path = Path(kb_dir or default_kb_dir()) / CHART_CODES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        ms = tuple(MsCode(c["code"], c["display"], c.get("ms_course"), c.get("active")) for c in data["ms_codes"]["codes"])
        dmts = tuple((c["code"], c["drug"]) for c in data["dmt_codes"]["codes"])
        return ChartCodes(data["ms_codes"]["system"], ms, data["dmt_codes"]["system"], dmts)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise KnowledgeBaseError(f"{path}: not a readable list of chart codes: {exc}") from None
