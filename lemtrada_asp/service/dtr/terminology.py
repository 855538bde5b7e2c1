"""The terminology the DTR package ships beside the Questionnaire, generated from it.

The contract keeps every answer option in the case-v1 code system (fhir-pas.md, "The
Questionnaire") and the PAS reader reads only those codes. DTR clients still want
the codes spelled out and standard codes where they exist, so the package carries:
the case-v1 CodeSystem (every code the form offers), one expanded ValueSet per choice
item (its answer options), and a ConceptMap from case-v1 onto the standard systems
(the contract's NUCC code and the chart mapping's KB codes, kb/chart_codes.toml, each
checked against the source it names there).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from ...case.pas import ids
from ..fhir_out import checked

__all__ = ["CODE_SYSTEM_URL", "code_system", "concept_map", "standard_codes", "value_set_url", "value_sets"]

CODE_SYSTEM_URL = ids.CASE_CODES
BASE = "http://lemtrada-asp.example/fhir/"
CONCEPT_MAP_URL = BASE + "ConceptMap/case-v1-to-standard"


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


def standard_codes() -> tuple[dict, ...]:
    """Every (item, case-v1 code) -> standard code this project holds as KB data, with where it was checked.

    Not restated here: NUCC Neurology is the contract's (case/pas/ids.py, the prescriber
    mapping), the ICD-10-CM codes of MS and the RxNorm ingredients of the DMTs are the
    chart mapping's (kb/chart_codes.toml, read by case/fhir/codes.py), each checked there
    against the source it names. A code the chart reads as a narrower concept (an MS
    code that also states activity) maps as ``narrower``.
    """
    from ...case.fhir.codes import CHART_CODES_FILE, chart_codes

    codes = chart_codes()
    kb = f"kb/{CHART_CODES_FILE}"
    out = [{"link_id": "prescriber.specialty", "code": "neurology", "system": ids.NUCC, "target": ids.NEUROLOGY_NUCC,
            "display": "Neurology", "equivalence": "equivalent",
            "source": "fhir-pas.md, Mapping (prescriber.specialty): NUCC 2084N0400X (Neurology)"}]
    for ms in codes.ms:
        if ms.ms_course is None:
            out.append({"link_id": "diagnosis.condition", "code": "multiple_sclerosis", "system": codes.icd10cm,
                        "target": ms.code, "display": ms.display, "equivalence": "equivalent", "source": kb})
        else:
            out.append({"link_id": "diagnosis.ms_course", "code": ms.ms_course, "system": codes.icd10cm, "target": ms.code,
                        "display": ms.display, "equivalence": "equivalent" if ms.active is None else "narrower",
                        "source": kb})
    for code, drug in codes.dmts:
        for link_id in ("dmt_history.drug", "concurrent_dmts"):
            out.append({"link_id": link_id, "code": drug, "system": codes.rxnorm, "target": code, "display": drug.replace("_", " "),
                        "equivalence": "equivalent", "source": kb})
    return tuple(out)


def concept_map(questionnaire: dict) -> dict:
    """case-v1 -> standard codes, one group per target system, only for codes the form offers."""
    offered = {(i["linkId"], o["valueCoding"]["code"]) for i in _choice_items(questionnaire.get("item", []))
               for o in i["answerOption"]}
    displays = {o["valueCoding"]["code"]: o["valueCoding"]["display"]
                for i in _choice_items(questionnaire.get("item", [])) for o in i["answerOption"]}
    groups: dict[str, dict[str, dict]] = {}
    for entry in standard_codes():
        if (entry["link_id"], entry["code"]) not in offered:
            continue
        element = groups.setdefault(entry["system"], {}).setdefault(
            entry["code"], {"code": entry["code"], "display": displays[entry["code"]], "target": []})
        target = {"code": entry["target"], "display": entry["display"], "equivalence": entry["equivalence"],
                  "comment": f"checked against: {entry['source']}"}
        if target not in element["target"]:
            element["target"].append(target)
    return checked({
        "resourceType": "ConceptMap",
        "id": "case-v1-to-standard",
        "url": CONCEPT_MAP_URL,
        "version": ids.QUESTIONNAIRE_VERSION,
        "name": "LemtradaCaseV1ToStandard",
        "title": "lemtrada-asp case-v1 answer codes to NUCC, ICD-10-CM and RxNorm",
        "status": "active",
        "sourceCanonical": CODE_SYSTEM_URL,
        "group": [{"source": CODE_SYSTEM_URL, "target": system, "element": list(elements.values())}
                  for system, elements in groups.items()],
    })
