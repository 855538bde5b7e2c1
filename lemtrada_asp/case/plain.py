"""A validated case as plain objects, whose classes are generated from schema.py.

What a validated case must offer the rest of the tool is its fields as attributes
(``case.request.date``, ``case.dmt_history[0].drug``) and what the rules need
derived from them (CaseMethods). Plain objects offer that without pydantic, so a
command that only decides valid cases never imports it (pydantic words the errors:
model.py). Both validators give these objects: the fast path (fast.py) builds them,
and a case pydantic accepted is copied into them (``from_model``), so a case is the
same object, field for field, whichever path validated it.

>>> Case.fields[:3]
('id', 'request', 'member')
>>> DmtHistoryEntry.fields
('drug', 'outcome')
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from .dates import last_dose
from .schema import FIELDS

__all__ = ["CLASSES", "Case", "CaseMethods", "Plain", "from_model"]


class Plain:
    """An object of a case: its declared fields as read-only attributes, equal to another
    of its class when every field is (as the pydantic models it stands for compare)."""

    __slots__ = ()
    fields: ClassVar[tuple[str, ...]] = ()
    path: ClassVar[str] = ""  # its path in schema.py: "" for the case, "request", "dmt_history[]"

    @classmethod
    def of(cls, *values: Any) -> Plain:
        """An object of the field values, in the order of ``fields``."""
        made = object.__new__(cls)
        for name, value in zip(cls.fields, values, strict=True):
            object.__setattr__(made, name, value)
        return made

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a validated case is read-only: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a validated case is read-only: cannot delete {name}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.values() == other.values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in zip(self.fields, self.values()))})"

    def __reduce__(self) -> tuple:
        return (_rebuild, (self.path, self.values()))


class CaseMethods:
    """What the rules need of a case, derived from its fields (the plain Case's and the pydantic model's)."""

    __slots__ = ()

    @property
    def planned_start(self) -> date:
        return self.request.start_date or self.request.date  # type: ignore[attr-defined]

    def last_course(self) -> tuple[int, Any] | None:
        """The prior course with the latest last day (criteria.md, C3: the last dose is the
        latest last day over all prior courses, not the last day of the latest-starting
        course). Prior courses never overlap in a valid case, so it is also the one that
        started last; on a tie (only in a case not yet validated) the later-listed one."""
        courses = list(enumerate(self.lemtrada_courses or []))  # type: ignore[attr-defined]
        return max(courses, key=lambda ic: (last_dose(ic[1].start_date, ic[1].days), ic[0])) if courses else None

    def running_course(self) -> tuple[int, Any] | None:
        """The prior course still running on the request date (its last day on or after it), if any."""
        last = self.last_course()
        if last and last_dose(last[1].start_date, last[1].days) >= self.request.date:  # type: ignore[attr-defined]
            return last
        return None


def children(path: str) -> tuple[str, ...]:
    """The fields directly inside an object of schema.py ("" the case itself), in declared order."""
    prefix = f"{path}." if path else ""
    return tuple(p[len(prefix):] for p in FIELDS if p.startswith(prefix) and "." not in p[len(prefix):]
                 and not p.endswith("[]"))


def is_object(path: str) -> bool:
    """Whether a path of schema.py holds an object: an object field, or a list's entry with fields of its own."""
    return path == "" or (path in FIELDS and FIELDS[path].kind == "object") or (
        path.endswith("[]") and path not in FIELDS and any(p.startswith(path + ".") for p in FIELDS))


def _class_name(path: str) -> str:
    if not path:
        return "Case"
    words = path.removesuffix("[]").split(".")[-1].split("_")
    return "".join(w.capitalize() for w in words) + ("Entry" if path.endswith("[]") else "")


def _make_class(path: str) -> type[Plain]:
    names = children(path)
    bases = (CaseMethods, Plain) if not path else (Plain,)
    return type(_class_name(path), bases, {"__slots__": names, "fields": names, "path": path, "__module__": __name__})


# One class per object of the schema, each also a name of this module (pickle finds it there).
CLASSES: dict[str, type[Plain]] = {
    path: _make_class(path) for path in ["", *FIELDS, *{p.split("[]")[0] + "[]" for p in FIELDS if "[]." in p}]
    if is_object(path)
}
globals().update({cls.__name__: cls for cls in CLASSES.values()})
Case: type[Plain] = CLASSES[""]


def _rebuild(path: str, values: tuple) -> Plain:
    return CLASSES[path].of(*values)


def from_model(model: Any, path: str = "") -> Any:
    """A pydantic model's case (model.py) as plain objects, field for field."""
    if model is None:
        return None
    cls = CLASSES[path]
    values = []
    for name in cls.fields:
        value = getattr(model, name)
        inner = f"{path}.{name}" if path else name
        if isinstance(value, list) and f"{inner}[]" in CLASSES:
            value = [from_model(entry, f"{inner}[]") for entry in value]
        elif inner in CLASSES:
            value = from_model(value, inner)
        values.append(value)
    return cls.of(*values)
