"""The same bytes everywhere: the cache or not, one process or two workers, through the command line.

A quick check on a small corpus (test_batch.py compares the library's results),
and a slow one: thousands of generated and random cases through ``decide
--format json``, with and without corrections, whose outputs must be equal
byte for byte across --jobs 1, --jobs 2 and --no-cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lemtrada_asp.analysis.generate import generate_cases
from test_cache import random_cases

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def write(path: Path, generated: int, randoms: int, seed: int) -> Path:
    cases = list(generate_cases(generated, seed)) + random_cases(randoms, seed)
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return path


def decide(path: Path, *args: str) -> bytes:
    done = subprocess.run([sys.executable, "-m", "lemtrada_asp", "decide", str(path), "--format", "json", *args],
                          env=ENV, capture_output=True, timeout=900)
    assert done.returncode in (0, 2), done.stderr.decode()[-2000:]
    return done.stdout


def assert_same_everywhere(path: Path, *extra: str) -> None:
    alone = decide(path, "--jobs", "1", *extra)
    assert alone.count(b"\n") == sum(1 for _ in path.open())
    assert decide(path, "--jobs", "2", *extra) == alone
    assert decide(path, "--jobs", "1", "--no-cache", *extra) == alone


def test_a_small_corpus_decides_to_the_same_bytes_with_and_without_the_cache_and_workers(tmp_path):
    assert_same_everywhere(write(tmp_path / "small.jsonl", 300, 150, 3), "--no-corrections")


@pytest.mark.slow
@pytest.mark.parametrize("corrections", ["--no-corrections", "--corrections"])
def test_thousands_of_cases_decide_to_the_same_bytes_with_and_without_the_cache_and_workers(tmp_path, corrections):
    assert_same_everywhere(write(tmp_path / "big.jsonl", 4_000, 2_000, 11), corrections)


# decide with the fast validation path switched off: every case validated by pydantic
# (case/validation.py falls back to it whenever fast_case answers None).
FULL_PATH = (
    "import sys; import lemtrada_asp.case.validation as v; v.fast_case = lambda data: None; "
    "from lemtrada_asp.cli import main; sys.argv[0] = 'lemtrada-asp'; main()"
)


def test_the_lean_and_the_full_validation_paths_decide_a_corpus_to_the_same_bytes(tmp_path):
    path = write(tmp_path / "lean.jsonl", 200, 100, 7)
    cases = [json.loads(line) for line in path.read_text().splitlines()[:6]]
    cases[0]["request"]["date"] = "2026-02-30"  # not a date
    cases[1]["member"]["birth_date"] = 1980  # a number for a date
    del cases[2]["request"]  # a required section missing
    cases[3]["unknown_field"] = True  # a field the format does not have
    cases[4]["request"]["days"] = "five"  # text for a number
    cases[5]["chart_date"] = "2099-01-01"  # after the request date: a cross-field problem
    with path.open("a") as out:
        out.writelines(json.dumps(c) + "\n" for c in cases)
    lean = decide(path, "--jobs", "1", "--corrections")
    done = subprocess.run([sys.executable, "-c", FULL_PATH, "decide", str(path), "--format", "json", "--jobs", "1",
                           "--corrections"], env=ENV, capture_output=True, timeout=900)
    assert done.returncode == 2, done.stderr.decode()[-2000:]  # the six bad cases: invalid input
    assert lean.count(b"\n") == 306 and lean.count(b'"error"') >= 6
    assert done.stdout == lean
