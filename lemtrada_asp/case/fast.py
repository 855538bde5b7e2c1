"""The fast path of case validation: a checker generated from schema.py, no pydantic.

``fast_case(data)`` gives the validated case (plain.py's objects) when every field of
the parsed data is one the case format accepts, or None when it is not sure. It never
words an error: on None the caller asks the pydantic model (model.py), which refuses
the case with the message it always gave, or accepts it (then the case is copied into
the same plain objects). So an accepted case and every error are the same as with
pydantic alone; only the common case, a valid one, is faster.

The checker is generated from the one declaration of the schema (schema.py: paths,
kinds, required fields, choices, defaults) and the value checks both validators use
(values.py); nothing here restates a field. It accepts only what it can vouch for:
JSON's own types (dict, list, str, int, float, bool, None) and the dates YAML gives;
anything else (bytes, a tuple, a subclass) is left to pydantic.
tests/test_fast_validation.py checks the two agree on every example case, the hostile
corpus and generated and mutated cases.

>>> fast_case({"id": "A-1", "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 5}}).request.consecutive
True
>>> fast_case({"id": "A-1", "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": "5"}}) is None
True
"""

from __future__ import annotations

from typing import Any, Callable

from ..engine.limits import MAX_LIST_ITEMS
from .plain import CLASSES, children, is_object
from .schema import FIELDS
from .values import (
    CODE_MAX, ID_PATTERN, TEXT_MAX, code, documented_item, drug, enum_key, iso_date, plain_text, positive_number, state,
)

__all__ = ["fast_case"]


class _Unsure(Exception):
    """The fast path cannot vouch for a value: pydantic decides (and words the error)."""


Check = Callable[[Any], Any]


def fast_case(data: Any) -> Any:
    """The case as plain objects if the fast path accepts it, else None (then pydantic decides)."""
    try:
        return _CASE(data)
    except (_Unsure, ValueError):  # ValueError: a value check of values.py refused
        return None


def _utf8(value: str) -> bool:
    # pydantic refuses a string that is not valid Unicode (a lone surrogate from a JSON "\ud800").
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _id(value: Any) -> str:
    if type(value) is not str or not ID_PATTERN.fullmatch(value):
        raise _Unsure
    return value


def _text(value: Any, most: int = TEXT_MAX) -> str:
    if type(value) is not str or not 1 <= len(value) <= most or not _utf8(value):
        raise _Unsure
    return plain_text(value)


def _int(value: Any) -> int:
    if type(value) is not int or value < 1:
        raise _Unsure
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _Unsure
    return value


def _scalar(path: str) -> Check:
    """The check of one scalar field, from its kind (schema.py)."""
    field = FIELDS[path]
    kind, choices = field.kind, frozenset(field.choices)
    if kind == "enum":
        def one_of(value: Any) -> str:
            if type(value) is not str or (key := enum_key(value)) not in choices:
                raise _Unsure
            return key
        return one_of
    if kind == "choice":
        def exactly(value: Any) -> str:
            if type(value) is not str or value not in choices:
                raise _Unsure
            return value
        return exactly
    checks: dict[str, Check] = {
        "id": _id,
        "date": iso_date,
        "number": positive_number,
        "int": _int,
        "bool": _bool,
        "text": _text,
        "item": lambda value: documented_item(_text(value)),
        "code": lambda value: code(_text(value, CODE_MAX)),
        "state": state,
        "drug": drug,
    }
    if kind not in checks:
        raise ValueError(f"schema.py: {path} has kind {kind!r}, which the fast path has no check for")
    return checks[kind]


def _list(entry: Check) -> Check:
    def entries(value: Any) -> list:
        if type(value) is not list or len(value) > MAX_LIST_ITEMS:
            raise _Unsure
        return [entry(item) for item in value]
    return entries


_MISSING = object()


def _object(path: str) -> Check:
    """The check of an object of the schema: a dict of its fields only, each checked, into its plain class."""
    cls = CLASSES[path]
    names = frozenset(children(path))
    plan = []
    for name in children(path):
        inner = f"{path}.{name}" if path else name
        field = FIELDS[inner]
        plan.append((name, _check(inner), field.required, field.default))
    plan_t = tuple(plan)
    new, set_ = object.__new__, object.__setattr__

    def check(value: Any) -> Any:
        if type(value) is not dict or not value.keys() <= names:
            raise _Unsure
        made = new(cls)
        get = value.get
        for name, check_, required, default in plan_t:
            found = get(name, _MISSING)
            if found is _MISSING:
                if required:
                    raise _Unsure
                found = default
            elif found is None:
                if required or default is not None:  # only an optional field without a default may be null
                    raise _Unsure
            else:
                found = check_(found)
            set_(made, name, found)
        return made
    return check


def _check(path: str) -> Check:
    if is_object(path):
        return _object(path)
    if FIELDS[path].kind == "list":
        return _list(_check(f"{path}[]"))
    return _scalar(path)


_CASE = _check("")
