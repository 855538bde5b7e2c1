"""Test suites: case files with their expected outcome beside them.

``cases/NAME.yaml`` is a case; ``cases/NAME.expected.yaml`` says what must come
of it, with any subset of the keys below. A failing expectation is reported as
one line per key: what was expected, what was decided.

The keys are the fields of the decision format (decision-format.md) --
``decision``, ``pend_reason``, ``review_type``, ``course``, ``failed`` and
``missing`` (as lists of ids, or of objects compared on the keys they give),
``authorized`` (compared on the keys given), ``advisories`` (the texts, in
order), ``corrections`` (the alternatives, each a list of ids, or objects),
``kb_version`` -- plus two short forms: ``authorized_mg`` and ``because``
(also ``evidence``: per criterion id, the case facts behind it, as the
decision's ``because`` lists them, found at any depth of failed and missing).
``accepted`` rewrites an expectation to what was decided, keeping its keys and
its leading comment lines (``test --accept``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.errors import InputError, Problem
from ..engine.loading import load_yaml

KEYS = ("decision", "pend_reason", "failed", "missing", "authorized_mg")  # what the suite program reads off clingo
FIELDS = ("review_type", "course", "authorized", "advisories", "corrections", "because", "evidence", "kb_version")
EVERY_KEY = KEYS + FIELDS  # an expectation may name any of these


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
    unknown = sorted(set(data) - set(EVERY_KEY), key=str)
    if unknown:
        raise InputError(str(path), [Problem(str(k), f"unknown expectation; expected one of {', '.join(EVERY_KEY)}") for k in unknown])
    for key in ("because", "evidence"):
        if key in data and not (isinstance(data[key], dict) and all(isinstance(v, list) for v in data[key].values())):
            raise InputError(str(path), [Problem(key, "expected a mapping of criterion id to the list of its because lines")])
    return data


def beyond_the_suite_program(expected: dict[str, Any]) -> bool:
    """Does the expectation name a field the suite program (suiteprog.py) does not read off clingo?"""
    return any(key not in KEYS for key in expected)


def needs_corrections(expected: dict[str, Any]) -> bool:
    return "corrections" in expected


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
    lines = []
    for key in EVERY_KEY:
        if key not in expected:
            continue
        want = expected[key]
        have = decided_value(key, decision, want)
        if key in ("failed", "missing") and _all_strings(want):
            want, have = sorted(want or []), sorted(have)
            if want != have:
                marks = [f"-{i}" for i in want if i not in have] + [f"+{i}" for i in have if i not in want]
                lines.append(f"{key}: expected {_ids(want)}, decided {_ids(have)}  ({' '.join(marks)})")
        elif key in ("because", "evidence"):
            for ident, facts in want.items():
                got = have.get(ident)
                if got != facts:
                    lines.append(f"{key} of {ident}: expected {_plain(facts)}, decided {_plain(got)}")
        elif not _matches(want, have):
            lines.append(f"{key}: expected {_plain(want)}, decided {_plain(have)}")
    return lines


def decided_value(key: str, decision: dict[str, Any], like: Any = None) -> Any:
    """What a decision gives for an expectation key, in the form of the expected value `like`."""
    if key in ("decision", "pend_reason"):
        return decision.get(key)
    if key == "authorized_mg":
        return decision["authorized"]["mg"] if decision.get("authorized") else None
    if key in ("failed", "missing"):
        items = decision.get(key) or []
        return [i["id"] for i in items] if like is None or _all_strings(like) else items
    if key in ("because", "evidence"):
        found: dict[str, list[str]] = {}

        def walk(node: dict) -> None:
            if "because" in node:
                found.setdefault(node["id"], list(node["because"]))
            for child in node.get("reasons", []) or []:
                walk(child)

        for item in (decision.get("failed") or []) + (decision.get("missing") or []):
            walk(item)
        return found
    if key == "corrections":
        alternatives = decision.get("corrections")
        if alternatives is None:
            return None
        if like is None or all(isinstance(alt, list) and _all_strings(alt) for alt in like or []):
            return [[change["id"] for change in alt] for alt in alternatives]
        return alternatives
    return decision.get(key)


def accepted(expected: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    """The expectation rewritten to what was decided: the same keys, in the same forms."""
    out: dict[str, Any] = {}
    for key, want in expected.items():
        have = decided_value(key, decision, want)
        if key in ("because", "evidence"):
            have = {ident: have.get(ident) for ident in want}
        elif isinstance(want, dict) and isinstance(have, dict):
            have = {k: have.get(k) for k in want} if set(want) <= set(have) else have
        out[key] = have
    return out


def expectation_text(expected: dict[str, Any], old_text: str = "") -> str:
    """An expectation file's text: the old file's leading comment lines, then each key (ids in flow style, as written by hand)."""
    import yaml

    comments = []
    for line in old_text.splitlines():
        if not line.startswith("#"):
            break
        comments.append(line)
    body = []

    def short(value: Any) -> bool:  # ids, or lists of ids: one line, as written by hand
        return isinstance(value, list) and all(
            isinstance(v, (str, int)) and len(str(v)) <= 12 or isinstance(v, list) and short(v) for v in value)

    for key, value in expected.items():
        if short(value):
            text = yaml.safe_dump({key: value}, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1000)
            body.append(text.strip().removeprefix("{").removesuffix("}"))
        else:
            body.append(yaml.safe_dump({key: value}, default_flow_style=False, sort_keys=False, allow_unicode=True, width=1000).rstrip("\n"))
    return "\n".join(comments + body) + "\n"


def _all_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _matches(want: Any, have: Any) -> bool:
    """Equal, except that an expected mapping is compared on the keys it gives (at any depth)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _matches(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(_matches(w, h) for w, h in zip(want, have))
    return want == have


def _ids(ids: list[str]) -> str:
    return "[" + ", ".join(ids) + "]"


def _plain(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)
