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
import sys  # noqa: E402

import click  # noqa: E402

from ..engine.collector import set_for_batches  # noqa: E402

set_for_batches()  # a command's process is ours: fewer collector passes (engine/collector.py)

__all__ = ["main", "may_leave_quickly"]

# The commands that said their output is only standard output and error (may_leave_quickly).
_LEAVING: set[str] = set()

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


def may_leave_quickly(command: str) -> None:
    """Say that this run's command writes nothing but standard output and error, so that,
    once it has succeeded and both are flushed, the process may end without the
    interpreter's teardown (freeing every module and object: ~20 ms of a one-case run)."""
    _LEAVING.add(command)


def _leave_quickly(status: object) -> None:
    """os._exit(0) after a successful run, once its output is flushed; otherwise return, and
    the normal exit follows: an exit status other than 0, output that cannot be flushed, a
    thread still running or an exit handler registered (a pool, a temporary directory)."""
    import atexit
    import threading

    if status not in (None, 0) or not _LEAVING:
        return
    if atexit._ncallbacks() or any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - the normal exit reports (or quietly ignores) it as it always has
        return
    os._exit(0)


class Commands(click.Group):
    """The group of COMMANDS, each imported when it is named rather than all with the
    group: a one-case ``decide`` loads no other command's module. ``--help`` imports
    them all, to list each with its own short help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def main(self, args=None, *more, **kwargs):  # noqa: ANN001, ANN201 - click's
        try:
            return super().main(args, *more, **kwargs)
        except SystemExit as exc:
            if args is None:  # the process's own command line (not a caller's, such as click's CliRunner)
                _leave_quickly(exc.code)
            raise

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
