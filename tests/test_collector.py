"""The garbage collector: set by the processes this package starts, never by importing the library."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from lemtrada_asp.engine.collector import GEN0, set_for_batches


@pytest.fixture
def threshold():
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


@pytest.mark.parametrize(("before", "after"), [
    ((700, 10, 10), (GEN0, 10, 10)),  # CPython's default: raised, the older generations kept
    ((2 * GEN0, 5, 5), (2 * GEN0, 5, 5)),  # a higher threshold someone set is kept
    ((0, 10, 10), (0, 10, 10)),  # a collector turned off stays off
])
def test_batches_raise_the_first_threshold_only(threshold, before, after):
    gc.set_threshold(*before)
    set_for_batches()
    assert gc.get_threshold() == after


def first_threshold(code: str) -> int:
    out = subprocess.run([sys.executable, "-c", code + "; import gc; print(gc.get_threshold()[0])"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_the_command_line_sets_its_process_and_the_library_does_not():
    assert first_threshold("import lemtrada_asp.cli") == GEN0
    default = first_threshold("pass")
    assert default < GEN0
    assert first_threshold("from lemtrada_asp import Policy; Policy.load()") == default
