"""Limits on any input a policy reads, and the helpers that report a breach.

A real case lists a handful of entries and nests a few levels deep; the limits sit
far above that and far below what could make parsing, validating or grounding
slow. They are this tool's, not a case format's, so every policy's cases share
them (README, "Limits").
"""

from __future__ import annotations

import re
import reprlib
from typing import Any, Iterable

from .errors import Problem

__all__ = ["MAX_DIGITS", "MAX_LIST_ITEMS", "MAX_NESTING", "MAX_PROBLEMS", "RefusedNumber",
           "capped", "field_path", "shape_problems", "show"]

MAX_LIST_ITEMS = 100  # entries in any one list
MAX_NESTING = 10  # objects and lists inside one another, the case itself being 1
MAX_DIGITS = 30  # digits in a whole number; int("9" * 10**6) alone takes seconds
MAX_PROBLEMS = 20  # problems reported per case; the rest are counted


class RefusedNumber:
    """A number the parsers will not convert, kept as a marker in its place.

    A whole number of more than MAX_DIGITS digits would be slow to convert (and
    Python refuses past 4,300 digits); JSON's NaN and Infinity are no quantity a
    case can state. Parsers cannot tell which field they are in; validation can,
    so the parsers leave this marker and validation reports it under its field.
    """

    def __init__(self, message: str):
        self.message = message

    @classmethod
    def long(cls, text: str) -> "RefusedNumber":
        digits = len(text.lstrip("+-"))
        return cls(f"expected a number of at most {MAX_DIGITS} digits, got one of {digits:,} digits")

    def __repr__(self) -> str:
        return f"<{self.message}>"


_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60
_SHOW.maxlist = _SHOW.maxdict = 4
_SHOW.maxlevel = 2


def show(value: Any) -> str:
    """A value as a short repr for a message: long text and big lists are cut, never printed whole."""
    return _SHOW.repr(value)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,59}")


def field_path(parts: Iterable[Any]) -> str:
    """``dmt_history[0].drug``; a key that is not a plain name is quoted, so a
    newline or a very long key in a case cannot forge or flood a message line."""
    path = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            path += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f"[{show(part)}]"
    return path


def shape_problems(data: Any) -> list[Problem]:
    """Nesting past MAX_NESTING and refused numbers, found without deep recursion.

    Runs before pydantic so that neither it nor a message's repr ever walks a
    structure deep enough to exhaust the stack. Nearly every case has no such
    problem, so a quick check (recursing at most MAX_NESTING levels) clears it;
    only a case it flags is walked again to name each problem's field.
    """
    if _shape_ok(data, 1):
        return []
    problems: list[Problem] = []
    stack: list[tuple[Any, tuple, int]] = [(data, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, RefusedNumber):
            problems.append(Problem(field_path(path), value.message))
        elif isinstance(value, (dict, list)):
            if depth > MAX_NESTING:
                problems.append(Problem(field_path(path), f"nested more than {MAX_NESTING} levels deep; a case nests at most 3"))
                continue
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            # Plain scalars need no visit; skipping them keeps this walk cheap per case.
            stack.extend(
                (child, (*path, key), depth + 1)
                for key, child in reversed(list(pairs))
                if isinstance(child, (dict, list, RefusedNumber))
            )
    return problems


def _shape_ok(value: Any, depth: int) -> bool:
    """No refused number inside value and nothing nested past MAX_NESTING (value at depth)."""
    if type(value) is dict:
        value = value.values()
    elif type(value) is not list:  # a scalar, or a subclass the full walk should judge
        return not isinstance(value, (dict, list, RefusedNumber))
    for child in value:
        kind = type(child)
        if kind is dict or kind is list:
            if depth >= MAX_NESTING or not _shape_ok(child, depth + 1):
                return False
        elif kind not in _SCALARS and isinstance(child, (dict, list, RefusedNumber)):
            return False
    return True


_SCALARS = frozenset({str, int, float, bool, type(None)})


def capped(problems: list[Problem]) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], Problem("", f"... and {len(problems) - MAX_PROBLEMS} more problems")]
