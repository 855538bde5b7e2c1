"""The terminology the DTR package ships beside the Questionnaire, generated from it.

The contract keeps every answer option in the case-v1 code system (fhir-pas.md, "The
Questionnaire") and the PAS reader reads only those codes. DTR clients still want
the codes spelled out and standard codes where they exist, so the package carries:
the case-v1 CodeSystem (every code the form offers), one expanded ValueSet per choice
item (its answer options), and a ConceptMap from case-v1 onto the standard systems
(standard_codes.toml, each code with the source it was checked against).
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from ...case.pas import ids
from ..fhir_out import checked

__all__ = ["CODE_SYSTEM_URL", "code_system", "concept_map", "standard_codes", "value_set_url", "value_sets"]

CODE_SYSTEM_URL = ids.CASE_CODES
BASE = "http://lemtrada-asp.example/fhir/"
CONCEPT_MAP_URL = BASE + "ConceptMap/case-v1-to-standard"
STANDARD_CODES = Path(__file__).with_name("standard_codes.toml")


def _choice_items(items: list[dict]) -> Iterator[dict]:
    for item in items:
        if item.get("answerOption"):
            yield item
        yield from _choice_items(item.get("item", []))


def value_set_url(link_id: str) -> str:
    return f"{BASE}ValueSet/lemtrada-pa-{link_id.replace('.', '-').replace('_', '-')}"


def _expanded(url: str, name: str, title: str, codings: list[dict], stamp: str) -> dict:
    systems: dict[str, list[dict]] = {}
    for c in codings:
        systems.setdefault(c["system"], []).append({"code": c["code"], "display": c["display"]})
    return checked({
        "resourceType": "ValueSet",
        "id": url.rsplit("/", 1)[-1],
        "url": url,
        "version": ids.QUESTIONNAIRE_VERSION,
        "name": name,
        "title": title,
        "status": "active",
        "compose": {"include": [{"system": s, "concept": concepts} for s, concepts in systems.items()]},
        "expansion": {"timestamp": stamp, "total": len(codings),
                      "contains": [{"system": c["system"], "code": c["code"], "display": c["display"]} for c in codings]},
    })


def value_sets(questionnaire: dict, now: datetime | None = None) -> list[dict]:
    """One expanded ValueSet per choice item: exactly its answer options, in order."""
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    out = []
    for item in _choice_items(questionnaire.get("item", [])):
        link_id = item["linkId"]
        codings = [o["valueCoding"] for o in item["answerOption"]]
        name = "LemtradaPa" + "".join(p.capitalize() for p in link_id.replace(".", "_").split("_"))
        out.append(_expanded(value_set_url(link_id), name, f"Answers to '{item['text']}'", codings, stamp))
    return out


def code_system(questionnaire: dict) -> dict:
    """The case-v1 CodeSystem: every answer code the form offers, once, with its display."""
    concepts: dict[str, str] = {}
    for item in _choice_items(questionnaire.get("item", [])):
        for option in item["answerOption"]:
            concepts.setdefault(option["valueCoding"]["code"], option["valueCoding"]["display"])
    return checked({
        "resourceType": "CodeSystem",
        "id": "case-v1",
        "url": CODE_SYSTEM_URL,
        "version": ids.QUESTIONNAIRE_VERSION,
        "name": "LemtradaCaseV1",
        "title": "Answer codes of lemtrada-asp case format v1",
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "count": len(concepts),
        "concept": [{"code": c, "display": d} for c, d in concepts.items()],
    })


@lru_cache(maxsize=1)
def standard_codes() -> tuple[dict, ...]:
    """The entries of standard_codes.toml, each with its system's URL in ``system``."""
    data = tomllib.loads(STANDARD_CODES.read_text(encoding="utf-8"))
    systems = data["systems"]
    return tuple({**entry, "system": systems[entry["system"]]} for entry in data["map"])


def concept_map(questionnaire: dict) -> dict:
    """case-v1 -> standard codes, one group per target system, only for codes the form offers."""
    offered = {(i["linkId"], o["valueCoding"]["code"]) for i in _choice_items(questionnaire.get("item", []))
               for o in i["answerOption"]}
    displays = {o["valueCoding"]["code"]: o["valueCoding"]["display"]
                for i in _choice_items(questionnaire.get("item", [])) for o in i["answerOption"]}
    groups: dict[str, list[dict]] = {}
    for entry in standard_codes():
        if (entry["link_id"], entry["code"]) not in offered:
            continue
        groups.setdefault(entry["system"], []).append({
            "code": entry["code"], "display": displays[entry["code"]],
            "target": [{"code": entry["target"], "display": entry["display"], "equivalence": entry["equivalence"],
                        "comment": f"checked against: {entry['source']}"[:1000]}]})
    return checked({
        "resourceType": "ConceptMap",
        "id": "case-v1-to-standard",
        "url": CONCEPT_MAP_URL,
        "version": ids.QUESTIONNAIRE_VERSION,
        "name": "LemtradaCaseV1ToStandard",
        "title": "lemtrada-asp case-v1 answer codes to NUCC and ICD-10-CM",
        "status": "active",
        "sourceCanonical": CODE_SYSTEM_URL,
        "group": [{"source": CODE_SYSTEM_URL, "target": system, "element": elements}
                  for system, elements in groups.items()],
    })
