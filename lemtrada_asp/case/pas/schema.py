"""The QuestionnaireResponse fields, read off the case model rather than restated.

A PAS Claim has elements for the request, the member and the prescriber's role;
every other case field the KB reads travels as a DTR answer whose linkId is its case path
(fhir-pas.md, "QuestionnaireResponse"). Which fields those are, their answer
types and their codes all come from the pydantic models of the case format, so
a field added to the model gets an item (and a question) without an edit here.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel

from .. import model as case_model

# Fields a Claim, its Patient or the prescriber role carry (fhir-pas.md, "Mapping");
# prescriber.specialty has both a role coding and an answer, the answer winning.
CLAIM_FIELDS = frozenset({"id", "request", "member"})

# The contract lists the items in this order; a field the model gains later is
# appended after these, in model order.
CONTRACT_ORDER = (
    "chart_date",
    "prescriber.specialty",
    "prescriber.consultation_with_specialist",
    "diagnosis.condition",
    "diagnosis.ms_course",
    "diagnosis.active",
    "dmt_history",
    "concurrent_dmts",
    "hiv_positive",
    "active_infections",
    "lemtrada_courses",
    "response.objective",
    "response.symptoms",
)

# Free-text fields the KB looks up in a vocabulary: an open choice, codes from the KB.
OPEN_CHOICE = frozenset({"diagnosis.condition"})

VALUE_ELEMENT = {
    "date": "valueDate",
    "boolean": "valueBoolean",
    "choice": "valueCoding",
    "string": "valueString",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
}


@dataclass(frozen=True)
class Item:
    """One Questionnaire item: a case field (or a group of a list of objects)."""

    link_id: str
    type: str  # date | boolean | choice | open-choice | string | integer | decimal | group
    repeats: bool
    codes: tuple[str, ...] = ()  # answer codes of a choice (the model's enum values)
    drug: bool = False  # a DMT name: codes are the canonical names, brand aliases accepted
    children: tuple["Item", ...] = field(default=())

    @property
    def value_elements(self) -> tuple[str, ...]:
        """The answer value[x] elements this item takes."""
        if self.type == "open-choice":
            return ("valueCoding", "valueString")
        return (VALUE_ELEMENT[self.type],) if self.type != "group" else ()

    @property
    def field_name(self) -> str:
        """The key of this field in its case object (the last part of the linkId)."""
        return self.link_id.rsplit(".", 1)[-1]


def _strip(annotation: Any) -> tuple[Any, list[Any]]:
    """The type under Optional and Annotated, with the Annotated metadata collected."""
    meta: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            meta.extend(extra)
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            annotation = rest[0] if len(rest) == 1 else annotation
            if len(rest) != 1:
                return annotation, meta
        else:
            return annotation, meta


def _is_drug(meta: list[Any]) -> bool:
    return any(getattr(m, "func", None) is case_model._drug for m in meta)


def _scalar(link_id: str, annotation: Any, meta: list[Any], repeats: bool) -> Item:
    if _is_drug(meta):
        return Item(link_id, "choice", repeats, tuple(case_model.DMT_ALIASES), drug=True)
    if get_origin(annotation) is Literal:
        return Item(link_id, "choice", repeats, tuple(get_args(annotation)))
    if annotation is bool:
        return Item(link_id, "boolean", repeats)
    if annotation is int:
        return Item(link_id, "integer", repeats)
    if annotation is str:
        return Item(link_id, "open-choice" if link_id in OPEN_CHOICE else "string", repeats)
    if isinstance(annotation, type) and annotation.__name__ == "date":
        return Item(link_id, "date", repeats)
    return Item(link_id, "decimal", repeats)


def _field_item(link_id: str, annotation: Any, field_meta: list[Any] = ()) -> list[Item]:
    inner, meta = _strip(annotation)
    meta = [*field_meta, *meta]
    if get_origin(inner) is list:
        element, element_meta = _strip(get_args(inner)[0])
        if isinstance(element, type) and issubclass(element, BaseModel):
            children = tuple(
                child for name, info in element.model_fields.items()
                for child in _field_item(f"{link_id}.{name}", info.annotation, info.metadata)
            )
            return [Item(link_id, "group", True, children=children)]
        return [_scalar(link_id, element, element_meta, True)]
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        # An object field (prescriber, diagnosis, response) is flattened into its fields.
        return [item for name, info in inner.model_fields.items()
                for item in _field_item(f"{link_id}.{name}", info.annotation, info.metadata)]
    return [_scalar(link_id, inner, meta, False)]


def read_by_the_kb(link_id: str) -> bool:
    """Whether the field (or a field of its list entries) becomes an input fact (case/schema.py).

    Fields no rule reads -- the notice's ``coverage`` -- are no question for the prescriber.
    A field the schema does not declare yet is asked: better a question too many than a
    fact the KB reads and nobody can submit.
    """
    from ..schema import FIELDS

    declared = {path: spec for path, spec in FIELDS.items()
                if path == link_id or path.startswith(link_id + "[") or path.startswith(link_id + ".")}
    return not declared or any(spec.facts for spec in declared.values())


def answer_items() -> tuple[Item, ...]:
    """Every case field a QuestionnaireResponse carries, in the contract's order."""
    return _answer_items(case_model.Case)


@functools.cache
def _answer_items(case: type[BaseModel]) -> tuple[Item, ...]:
    # Made once per case model (items are frozen): every $submit reads its QuestionnaireResponse by them.
    items = [
        item
        for name, info in case.model_fields.items()
        if name not in CLAIM_FIELDS
        for item in _field_item(name, info.annotation, info.metadata)
        if read_by_the_kb(item.link_id)
    ]
    rank = {link_id: i for i, link_id in enumerate(CONTRACT_ORDER)}
    return tuple(sorted(items, key=lambda it: rank.get(it.link_id, len(rank))))


def items_by_link_id() -> dict[str, Item]:
    """Top-level items by linkId."""
    return {item.link_id: item for item in answer_items()}
