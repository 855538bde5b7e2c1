"""Case fields from the DTR QuestionnaireResponse (fhir-pas.md, "QuestionnaireResponse").

Each top-level item's linkId is a case field path; the two list-of-object
fields are groups, one item per list entry, with their fields as child items.
Answers are only moved into place here, never judged: whether a code or date
is acceptable is the case format's to say, after the whole case is built, and
its problems are then reported at the answer they came from (``origins``).
"""

from __future__ import annotations

from typing import Any

from .ids import CASE_CODES, QUESTIONNAIRE_URL, QUESTIONNAIRE_VERSION
from .problems import Problems, child
from .schema import Item, answer_items

__all__ = ["adaptive_questionnaire", "answers_the_questionnaire", "read_answers"]


def _canonical(url: Any) -> bool:
    """The Questionnaire's canonical URL, bare or with its version (``...lemtrada-pa|1``)."""
    if not isinstance(url, str):
        return False
    base, _, version = url.partition("|")
    return base == QUESTIONNAIRE_URL and version in ("", QUESTIONNAIRE_VERSION)


def adaptive_questionnaire(qr: dict, qr_path: str) -> tuple[dict | None, str | None]:
    """The contained adaptive Questionnaire a QuestionnaireResponse answers, and its FHIRPath.

    DTR's adaptive form (SDC $next-question) answers a Questionnaire contained in the
    response (``questionnaire`` = ``#id``) whose ``derivedFrom`` names the canonical
    form; its items are the canonical's, asked one at a time. (None, None) when the
    response is not of that shape.
    """
    ref = qr.get("questionnaire")
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None, None
    for k, res in enumerate(qr.get("contained") or []):
        if (isinstance(res, dict) and res.get("resourceType") == "Questionnaire" and res.get("id") == ref[1:]
                and any(_canonical(d) for d in res.get("derivedFrom") or [])):
            return res, child(qr_path, "contained", k)
    return None, None


def answers_the_questionnaire(qr: dict) -> bool:
    """A response of the Lemtrada Questionnaire: the canonical one, or the adaptive form derived from it.

    Both are read alike (read_answers): the adaptive form asks the canonical's items,
    with the same linkIds, types and codes.
    """
    return _canonical(qr.get("questionnaire")) or adaptive_questionnaire(qr, "")[0] is not None


def read_answers(qr: dict, qr_path: str, problems: Problems, origins: dict[str, str]) -> dict:
    """The case fields the QuestionnaireResponse states, as a partial case dict."""
    top = {item.link_id: item for item in answer_items()}
    nested = {c.link_id for item in top.values() for c in item.children}
    form, form_path = adaptive_questionnaire(qr, qr_path)
    asked = {i.get("linkId") for i in (form or {}).get("item") or []}
    case: dict = {}
    seen: set[str] = set()
    for i, node in enumerate(qr.get("item") or []):
        path = child(qr_path, "item", i)
        link_id = node.get("linkId")
        spec = top.get(link_id)
        if form is not None and spec is not None and link_id not in asked:
            problems.add(path, "invalid", f"linkId {link_id!r} is not an item of the adaptive Questionnaire it answers "
                                          f"({form_path}); expected one of the questions asked")
            continue
        if spec is None:
            where = "a field of a group entry; put it inside its group item" if link_id in nested else "not a field of case format v1"
            problems.add(path, "invalid", f"linkId {link_id!r} is {where}; expected one of the Questionnaire's items")
            continue
        if spec.type == "group":
            entry = _group_entry(spec, node, path, problems, origins, len(case.get(spec.link_id, [])))
            if entry is not None:
                if spec.link_id not in case:
                    origins.setdefault(spec.link_id, path)
                case.setdefault(spec.link_id, []).append(entry)
            continue
        if link_id in seen:
            problems.add(path, "invalid", f"a second item for {link_id!r}; each field is answered at most once")
            continue
        seen.add(link_id)
        for j, _ in enumerate(node.get("item") or []):
            problems.add(child(path, "item", j), "invalid", f"{link_id!r} is not a group: it has no child items")
        found = _answers(spec, node, path, problems, origins, spec.link_id)
        if found is not None:
            _put(case, spec.link_id, found)
    return case


def _group_entry(spec: Item, node: dict, path: str, problems: Problems, origins: dict[str, str],
                 n: int) -> dict | None:
    if node.get("answer"):
        problems.add(path, "invalid", f"{spec.link_id!r} is a group: its fields are child items, not answers")
        return None
    fields = {c.link_id: c for c in spec.children}
    entry: dict = {}
    ok = True
    for j, sub in enumerate(node.get("item") or []):
        sub_path = child(path, "item", j)
        sub_spec = fields.get(sub.get("linkId"))
        if sub_spec is None:
            problems.add(sub_path, "invalid", f"linkId {sub.get('linkId')!r} is not a field of a {spec.link_id} entry; "
                                              f"expected {', '.join(fields)}")
            ok = False
        elif sub_spec.field_name in entry:
            problems.add(sub_path, "invalid", f"a second item for {sub_spec.link_id!r} in one {spec.link_id} entry")
            ok = False
        elif sub.get("item"):
            problems.add(child(sub_path, "item", 0), "invalid", f"{sub_spec.link_id!r} has no child items")
            ok = False
        else:
            value = _answers(sub_spec, sub, sub_path, problems, origins, f"{spec.link_id}[{n}].{sub_spec.field_name}")
            if value is not None:
                entry[sub_spec.field_name] = value
            elif sub.get("answer"):
                ok = False
    lacking = [c.link_id for c in spec.children if c.field_name not in entry]
    if lacking and ok:
        problems.add(path, "required", f"this {spec.link_id} entry lacks {', '.join(lacking)} (every field of an entry is required)")
    origins[f"{spec.link_id}[{n}]"] = path
    return entry if ok and not lacking else None


def _answers(spec: Item, node: dict, path: str, problems: Problems, origins: dict[str, str], field: str) -> Any:
    """The answer value(s) of one item: a list for a repeating field, else one value or None."""
    answers = node.get("answer") or []
    if not spec.repeats and len(answers) > 1:
        problems.add(path, "invalid", f"{spec.link_id!r} takes one answer, got {len(answers)}")
        return None
    values = []
    for k, answer in enumerate(answers):
        if answer.get("item"):
            problems.add(path, "invalid", f"answer {k} of {spec.link_id!r} has nested items (answer.item is not read)")
            return None
        element = next((key for key in answer if key.startswith("value")), None)
        if element not in spec.value_elements:
            problems.add(path, "invalid", f"{spec.link_id!r} takes {' or '.join(spec.value_elements)}, got {element or 'no value'}")
            return None
        value_path = child(path, "answer", k, element)
        value = answer[element]
        if element == "valueCoding":
            if value.get("system") not in (None, CASE_CODES):
                problems.add(value_path, "invalid", f"expected a code of {CASE_CODES}, got system {value.get('system')!r}")
                return None
            if not value.get("code"):
                problems.add(value_path, "required", "expected a valueCoding with a code")
                return None
            value = value["code"]
        origins[f"{field}[{k}]" if spec.repeats else field] = value_path
        values.append(value)
    if spec.repeats:
        origins.setdefault(field, path)
        return values
    return values[0] if values else None


def _put(case: dict, link_id: str, value: Any) -> None:
    """Set ``prescriber.specialty`` (a dotted path) in the nested case dict."""
    *parents, name = link_id.split(".")
    target = case
    for parent in parents:
        target = target.setdefault(parent, {})
    target[name] = value
