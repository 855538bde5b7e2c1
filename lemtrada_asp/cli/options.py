"""What every command shares: the options, and errors turned into messages and exit statuses.

Exit status: 0 every case decided (whatever the decisions); 2 some input was
invalid (every other case is still decided and printed); 3 the knowledge base
does not load or is unsound. Errors are messages, never tracebacks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..engine.errors import KnowledgeBaseError, LemtradaError

KB_OPTION = click.option(
    "--kb",
    "kb_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Knowledge base directory (holding policy.toml). Default: the KB shipped with the package.",
)

JOBS_OPTION = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for large batches. Default: all cores. Output order is input order either way.",
)


def format_option(choices: list[str], help: str):
    """--format, the same option on every command: the first choice is the default."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=help,
    )


def _fail(exc: LemtradaError) -> None:
    kind = "knowledge base error" if isinstance(exc, KnowledgeBaseError) else "error"
    click.echo(f"{kind}: {exc}", err=True)
    sys.exit(exc.exit_status)


def run_guarded(body) -> None:
    """Run a command body; this package's errors become a message and an exit status."""
    try:
        body()
    except LemtradaError as exc:
        _fail(exc)
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(130)
    except Exception as exc:  # a bug of ours: still a message, the traceback on request
        if os.environ.get("LEMTRADA_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} (set LEMTRADA_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
