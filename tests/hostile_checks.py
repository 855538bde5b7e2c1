"""What every answer to hostile input must look like, and a tally of the answers.

Shared by test_hostile_input.py, test_hostile_text.py and test_limits.py: a result
is either a decision in the decision format whose criterion ids are all in the
KB's catalogue, or an input error whose every problem says what was wrong.
Nothing else may come back; an exception escaping is a crash and is counted.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Callable, TypeVar

import jsonschema

from lemtrada_asp.engine.batch import Result
from lemtrada_asp.engine.errors import InputError

SCHEMA = json.loads((Path(__file__).parent / "decision-format.schema.json").read_text())

# inputs tried, decided, refused (input errors), crashed: across every test that tallies
TALLY: Counter[str] = Counter()

T = TypeVar("T")


def criterion_ids(decision: dict) -> set[str]:
    """Every criterion id a decision cites: failed and missing entries and their reasons."""
    found: set[str] = set()
    for entry in decision["failed"] + decision["missing"]:
        found.add(entry["id"])
        found.update(reason["id"] for reason in entry["reasons"])
    return found


def check_result(result: Result, catalogue_ids: set[str]) -> str:
    """Assert the result is a sound decision or a sound input error; say which."""
    if result.ok:
        jsonschema.validate(result.decision, SCHEMA)
        unknown = criterion_ids(result.decision) - catalogue_ids
        assert not unknown, f"decision cites ids not in the catalogue: {unknown}"
        TALLY["decided"] += 1
        return "decided"
    assert result.error["error"] == "invalid_input"
    problems = result.error["problems"]
    assert problems, result.error
    for problem in problems:
        assert isinstance(problem["field"], str)
        assert problem["message"].strip(), result.error
    # one line per problem, each starting with where it is: nothing in a case can add a line
    lines = result.error_text.split("\n")
    assert len(lines) == len(problems), result.error_text
    assert all(line.startswith(f"{result.source}: ") for line in lines), result.error_text
    TALLY["refused"] += 1
    return "refused"


def counted(run: Callable[[], T], inputs: int = 1) -> T:
    """Run one attempt on `inputs` inputs; an exception escaping it is tallied as a crash."""
    TALLY["inputs"] += inputs
    try:
        return run()
    except InputError:  # the API's way of refusing input: the caller checks and tallies it
        raise
    except BaseException:
        TALLY["crashed"] += 1
        raise


def fields(result: Result) -> list[str]:
    return [p["field"] for p in result.error["problems"]] if result.error else []


def summary(tally: Counter[str] | None = None) -> str:
    t = tally if tally is not None else TALLY
    return (
        f"{t['inputs']:,} inputs tried: {t['decided']:,} decided, "
        f"{t['refused']:,} refused with an input error, {t['crashed']:,} crashes"
    )


def report_to(config, name: str, before: Counter[str]) -> None:
    """One summary line per test module in pytest's output (the issue asks for the counts)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    delta = TALLY.copy()
    delta.subtract(before)
    if reporter is None or capture is None or not delta["inputs"]:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\n{name}: {summary(delta)}")

