"""Shared fixtures: one engine on the shipped KB, and approvable base cases to vary.

Tests change one thing in an approvable case and look at what clingo decides, so
each test names the single fact it is about.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from lemtrada_asp.engine.engine import Engine
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.case.model import validate_case

# Derivations the tests' many edited KBs store (engine/cache/stored.py) go to a folder of
# this run, never the user's cache; subprocesses (the CLI, servers) inherit it.
os.environ.setdefault("LEMTRADA_ASP_CACHE_DIR", tempfile.mkdtemp(prefix="lemtrada-cache-tests-"))

REPO = Path(__file__).resolve().parent.parent
KB_DIR = REPO / "kb"
CASES_DIR = REPO / "cases"

INITIAL: dict[str, Any] = {
    "id": "T-INITIAL",
    "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 5, "diagnosis_codes": ["G35.A"]},
    "member": {"birth_date": "1990-04-02", "state": "TX"},
    "prescriber": {"specialty": "neurology"},
    "chart_date": "2026-04-20",
    "diagnosis": {"condition": "multiple_sclerosis", "ms_course": "relapsing_remitting", "active": True},
    "dmt_history": [
        {"drug": "natalizumab", "outcome": "failed"},
        {"drug": "fingolimod", "outcome": "intolerant"},
    ],
    "concurrent_dmts": [],
    "hiv_positive": False,
    "active_infections": [],
}

CONTINUATION: dict[str, Any] = {
    "id": "T-CONTINUATION",
    "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 3, "diagnosis_codes": ["G35.A"]},
    "member": {"birth_date": "1990-04-02"},
    "prescriber": {"specialty": "ms_specialist"},
    "chart_date": "2026-01-15",
    "diagnosis": {"condition": "multiple_sclerosis", "ms_course": "relapsing_remitting"},
    "lemtrada_courses": [{"start_date": "2025-03-01", "days": 5}],
    "response": {"objective": ["mri_activity_reduced"], "symptoms": ["fatigue"]},
}


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(KnowledgeBase(KB_DIR))


def vary(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of base with dotted-path changes; the value DELETE removes the field."""
    case = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = case
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return case


DELETE = object()


@pytest.fixture(scope="session")
def catalogue_ids(engine) -> set[str]:
    """Every criterion and exclusion id the shipped KB knows: no output may cite another."""
    return set(engine.catalogue.criteria)


@pytest.fixture(scope="session")
def decide(engine):
    """Decide one case (a dict) through clingo and return the decision JSON."""

    def run(data: dict[str, Any]) -> dict[str, Any]:
        case = validate_case(data, "test")
        return engine.decide([("test", case)])[0].to_json()

    return run


@pytest.fixture(scope="session")
def statuses(engine):
    """Decide one case and return every evaluated node's status."""

    def run(data: dict[str, Any]) -> dict[str, str]:
        case = validate_case(data, "test")
        return engine.decide([("test", case)], details=True)[0].statuses()

    return run


def ids(entries: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in entries]


def edited_kb(tmp_path: Path, file: str, *, replace: tuple[str, str] | None = None, append: str | None = None) -> Path:
    """A copy of the shipped KB in tmp_path/kb (made once per test) with one file edited."""
    kb = tmp_path / "kb"
    if not kb.exists():
        shutil.copytree(KB_DIR, kb)
    path = kb / file
    text = path.read_text()
    if replace is not None:
        assert replace[0] in text, f"{replace[0]!r} is not in {file}: the test needs updating"
        text = text.replace(replace[0], replace[1])
    if append is not None:
        text = text.rstrip("\n") + "\n" + append + "\n"
    path.write_text(text)
    return kb


@pytest.fixture(autouse=True)
def _no_plan_settings_from_the_environment(monkeypatch):
    """A developer's LEMTRADA_PLAN must not change what the letter tests see."""
    monkeypatch.delenv("LEMTRADA_PLAN", raising=False)


def require_pdf():
    """pypdf, after checking that WeasyPrint can make a PDF here; else skip, saying what is missing.

    The README's test command installs the [pdf] extra, but WeasyPrint also loads Pango,
    a system library a bare container may lack: that is a skip with its reason, not an
    error (pytest.importorskip alone lets WeasyPrint's OSError through).
    """
    try:
        import weasyprint  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"PDF letters need the [pdf] extra (pip install 'lemtrada-asp[pdf]'): {exc}")
    except OSError as exc:
        pytest.skip(f"PDF letters need Pango, a system library WeasyPrint loads (Debian: libpango-1.0-0 libpangoft2-1.0-0): {exc}")
    return pytest.importorskip("pypdf", reason="reading a PDF back needs pypdf (the [pdf] extra)")
