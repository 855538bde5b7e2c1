"""Test suites: case files with their expected outcome beside them.

``cases/NAME.yaml`` is a case; ``cases/NAME.expected.yaml`` says what must come
of it, with any subset of the keys below. A failing expectation is reported as
one line per key: what was expected, what was decided.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.errors import InputError, Problem
from ..engine.loading import load_yaml

KEYS = ("decision", "pend_reason", "failed", "missing", "authorized_mg")


def expectation_path(case_path: Path) -> Path | None:
    stem = case_path.name.rsplit(".", 1)[0]
    for suffix in (".expected.yaml", ".expected.yml", ".expected.json"):
        candidate = case_path.with_name(stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def load_expectation(path: Path) -> dict[str, Any]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(str(path), [Problem("", str(exc))]) from None
    if not isinstance(data, dict):
        raise InputError(str(path), [Problem("", "expected a mapping of expected outcomes")])
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise InputError(str(path), [Problem(k, f"unknown expectation; expected one of {', '.join(KEYS)}") for k in unknown])
    return data


def observed(decision: dict[str, Any]) -> dict[str, Any]:
    """The comparable outcome of a decision JSON object."""
    return {
        "decision": decision["decision"],
        "pend_reason": decision["pend_reason"],
        "failed": [f["id"] for f in decision["failed"]],
        "missing": [m["id"] for m in decision["missing"]],
        "authorized_mg": decision["authorized"]["mg"] if decision["authorized"] else None,
    }


# --- running a suite ------------------------------------------------------------


def default_suite_dir() -> Path:
    """The example cases: ./cases of the checkout the command runs in, else cases/ beside the package.

    Why the working directory first: after a non-editable install the package lives in
    site-packages, but a user running ``lemtrada-asp test`` in a checkout means its cases.
    """
    package = Path(__file__).resolve().parent.parent
    here = Path("cases")
    for candidate in (here, package.parent / "cases"):
        if candidate.is_dir() and any(candidate.rglob("*.expected.*")):
            return candidate
    raise InputError(
        str(here.resolve()),
        [Problem("", "no test suite given and none found here (the example cases ship with the source checkout, "
                     "not the installed package); give the case files or directories to test")],
    )


def expectation_for(source: str) -> Path | None:
    """The expectation file beside a case file; None for a JSON Lines line or standard input."""
    path = Path(source)
    return expectation_path(path) if path.is_file() else None


def mismatches(expected: dict[str, Any], decision: dict[str, Any]) -> list[str]:
    """One line per expected key the decision does not match (empty when it passes).

    Worded for a person: id lists show what is expected but missing (-) and extra (+).
    """
    got = observed(decision)
    lines = []
    for key in KEYS:
        if key not in expected:
            continue
        want, have = expected[key], got[key]
        if key in ("failed", "missing"):
            want, have = sorted(want or []), sorted(have)
            if want != have:
                marks = [f"-{i}" for i in want if i not in have] + [f"+{i}" for i in have if i not in want]
                lines.append(f"{key}: expected {_ids(want)}, decided {_ids(have)}  ({' '.join(marks)})")
        elif want != have:
            lines.append(f"{key}: expected {_plain(want)}, decided {_plain(have)}")
    return lines


def _ids(ids: list[str]) -> str:
    return "[" + ", ".join(ids) + "]"


def _plain(value: Any) -> str:
    return "none" if value is None else str(value)
