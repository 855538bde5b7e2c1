"""The fast path of case validation: a checker generated from schema.py, no pydantic.

``fast_case(data)`` gives the validated case (plain.py's objects) when every field of
the parsed data is one the case format accepts, or None when it is not sure. It never
words an error: on None the caller asks the pydantic model (model.py), which refuses
the case with the message it always gave, or accepts it (then the case is copied into
the same plain objects). So an accepted case and every error are the same as with
pydantic alone; only the common case, a valid one, is faster.

The checker is generated from the one declaration of the schema (schema.py: paths,
kinds, required fields, choices, defaults) and the value checks both validators use
(values.py); nothing here restates a field. It is generated as Python source, one
function per object of the schema (``source()`` shows it), made from the schema's own
field names only, never from input; the value checks are memoised per string, since
the same dates, drugs and codes recur from case to case. It accepts only what it can vouch for:
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

from datetime import date
from typing import Any, Callable

from ..engine.limits import MAX_LIST_ITEMS
from .plain import CLASSES, children, is_object
from .schema import FIELDS
from .values import (
    CODE_MAX, ID_PATTERN, TEXT_MAX, code, documented_item, drug, enum_key, iso_date, plain_text, positive_number, state,
)

__all__ = ["fast_case", "source"]


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


def _memo(check: Check, size: int = 4096) -> Check:
    """check, remembering its result for the last few thousand strings (a pure function of the string)."""
    seen: dict[str, Any] = {}

    def memo(value: Any) -> Any:
        if type(value) is not str:
            return check(value)
        found = seen.get(value)
        if found is None:
            found = check(value)
            if len(seen) >= size:
                seen.clear()
            seen[value] = found
        return found
    return memo


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


def _date(value: Any) -> Any:
    return value if type(value) is date else iso_date(value)  # a YAML date as it is; a datetime is refused


def _enum(choices: tuple[str, ...]) -> Check:
    exact = {choice: choice for choice in choices}

    def one_of(value: Any) -> str:
        found = exact.get(value) if type(value) is str else None
        if found is None:  # written another way ("Failed", "relapsing-remitting"), or not a string
            if type(value) is not str or (found := enum_key(value)) not in exact:
                raise _Unsure
        return found
    return one_of


def _choice(choices: tuple[str, ...]) -> Check:
    exact = frozenset(choices)

    def exactly(value: Any) -> str:
        if type(value) is not str or value not in exact:
            raise _Unsure
        return value
    return exactly


_KINDS: dict[str, Check] = {
    "id": _id,
    "date": _memo(_date),
    "number": positive_number,
    "int": _int,
    "bool": _bool,
    "text": _text,
    "item": _memo(lambda value: documented_item(_text(value))),
    "code": _memo(lambda value: code(_text(value, CODE_MAX))),
    "state": _memo(state),
    "drug": _memo(drug),
}


def _scalar(path: str) -> Check:
    """The check of one scalar field, from its kind (schema.py)."""
    field = FIELDS[path]
    if field.kind == "enum":
        return _enum(field.choices)
    if field.kind == "choice":
        return _choice(field.choices)
    if field.kind not in _KINDS:
        raise ValueError(f"schema.py: {path} has kind {field.kind!r}, which the fast path has no check for")
    return _KINDS[field.kind]


def _list(entry: Check) -> Check:
    def entries(value: Any) -> list:
        if type(value) is not list or len(value) > MAX_LIST_ITEMS:
            raise _Unsure
        return [entry(item) for item in value]
    return entries


def _object_source(path: str, name: str, namespace: dict[str, Any]) -> str:
    """The source of the function that checks an object of the schema: a dict of its fields only,
    each checked, into its plain class (plain.py). Every name in it is a field name of schema.py."""
    lines = [
        f"def {name}(value):",
        f"    if type(value) is not dict or not value.keys() <= {name}_names:",
        "        raise _Unsure",
        f"    made = new({name}_class)",
        "    get = value.get",
    ]
    namespace[f"{name}_class"] = CLASSES[path]
    namespace[f"{name}_names"] = frozenset(children(path))
    for i, field_name in enumerate(children(path)):
        if not field_name.isidentifier():
            raise ValueError(f"schema.py: field {field_name!r} of {path or 'the case'} is not a name")
        inner = f"{path}.{field_name}" if path else field_name
        field = FIELDS[inner]
        check = f"{name}_{i}"
        namespace[check] = _check(inner, namespace)
        if field.required:
            lines += [f"    found = get({field_name!r}, MISSING)",
                      "    if found is MISSING or found is None:",
                      "        raise _Unsure",
                      f"    set_(made, {field_name!r}, {check}(found))"]
        elif field.default is None:
            lines += [f"    found = get({field_name!r})",
                      f"    set_(made, {field_name!r}, None if found is None else {check}(found))"]
        else:
            namespace[f"{check}_default"] = field.default
            lines += [f"    found = get({field_name!r}, MISSING)",
                      "    if found is None:  # only an optional field without a default may be null",
                      "        raise _Unsure",
                      f"    set_(made, {field_name!r}, {check}_default if found is MISSING else {check}(found))"]
    lines.append("    return made")
    return "\n".join(lines) + "\n"


_SOURCES: list[str] = []
_MISSING = object()


def _check(path: str, namespace: dict[str, Any]) -> Check:
    if is_object(path):
        name = "check_" + ("case" if not path else path.replace("[]", "_entry").replace(".", "_"))
        source = _object_source(path, name, namespace)
        _SOURCES.append(source)
        exec(compile(source, f"<fast path of {path or 'the case'}>", "exec"), namespace)  # noqa: S102 - source made from schema.py only
        return namespace[name]
    if FIELDS[path].kind == "list":
        return _list(_check(f"{path}[]", namespace))
    return _scalar(path)


def source() -> str:
    """The generated checker's source, one function per object of the schema."""
    return "\n\n".join(_SOURCES)


_CASE = _check("", {"_Unsure": _Unsure, "MISSING": _MISSING, "new": object.__new__, "set_": object.__setattr__})
