"""The ``lemtrada-asp`` command line: one module per command, flags only.

Each command parses its options, calls the library (Policy, the renderers, the
workbench) and prints; none holds logic of its own. Exit statuses: see
options.py (0 decided, 1 failed/changed, 2 invalid input, 3 KB or time/memory,
4 I/O, 130/143 signals, 141 output closed). Errors are messages, never tracebacks.
"""

from __future__ import annotations

import os

# pydantic looks for plugins in every installed distribution's entry points the first
# time a model is built (tens of ms of a one-case run); the command line uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import click  # noqa: E402

from .check_kb import check_kb  # noqa: E402
from .criteria import criteria  # noqa: E402
from .decide import decide
from .diff import diff
from .explain import explain
from .generate import generate
from .letter import letter
from .questionnaire import questionnaire
from .replay import replay
from .serve import serve
from .test import test

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lemtrada-asp")
def main() -> None:
    """Prior authorization for Lemtrada (alemtuzumab) in MS, decided by clingo.

    The policy's criteria are Answer Set Programming rules in the knowledge base
    (kb/); each decision names the criteria that failed, why, and where in the
    policy they come from.
    """



for _command in (decide, explain, letter, check_kb, test, diff, generate, serve, questionnaire, replay, criteria):
    main.add_command(_command)
