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
