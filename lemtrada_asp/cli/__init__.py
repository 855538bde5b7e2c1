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

import importlib  # noqa: E402

import click  # noqa: E402

from ..engine.collector import set_for_batches  # noqa: E402

set_for_batches()  # a command's process is ours: fewer collector passes (engine/collector.py)

__all__ = ["main"]

# Every command: its name and where it is defined (module of this package:function).
COMMANDS = {
    "check-kb": "check_kb:check_kb",
    "criteria": "criteria:criteria",
    "decide": "decide:decide",
    "diff": "diff:diff",
    "explain": "explain:explain",
    "generate": "generate:generate",
    "letter": "letter:letter",
    "questionnaire": "questionnaire:questionnaire",
    "replay": "replay:replay",
    "reviewer": "reviewer:reviewer",
    "serve": "serve:serve",
    "test": "test:test",
    "token": "token:token",
}


class Commands(click.Group):
    """The group of COMMANDS, each imported when it is named rather than all with the
    group: a one-case ``decide`` loads no other command's module. ``--help`` imports
    them all, to list each with its own short help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            # A name that is no command imports them all, so that click's "Did you mean ...?"
            # looks among every command, as it would in a group that holds them.
            for name in [cmd_name] if cmd_name in COMMANDS else COMMANDS:
                if name not in self.commands:
                    module, _, function = COMMANDS[name].partition(":")
                    self.add_command(getattr(importlib.import_module(f".{module}", __name__), function), name)
        return self.commands.get(cmd_name)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lemtrada-asp")
def main() -> None:
    """Prior authorization for Lemtrada (alemtuzumab) in MS, decided by clingo.

    The policy's criteria are Answer Set Programming rules in the knowledge base
    (kb/); each decision names the criteria that failed, why, and where in the
    policy they come from.
    """
