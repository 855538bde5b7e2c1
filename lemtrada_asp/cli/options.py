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


def executor_options(command):
    """--executor, --scheduler and --shard: where a batch's chunks are decided (engine/executors.py)."""
    command = click.option(
        "--shard", default=None, metavar="I/N",
        help="Decide only chunks I, I+N, I+2N, ... of the input (0 <= I < N), for splitting one input across machines.",
    )(command)
    command = click.option(
        "--scheduler", default=None, metavar="ADDRESS",
        help="With --executor dask: the scheduler's address (e.g. tcp://10.0.0.5:8786). Default: a local cluster.",
    )(command)
    return click.option(
        "--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
        help="local: this machine (--jobs processes); dask: a Dask cluster, one engine per worker, chunks as tasks.",
    )(command)


def make_run(executor: str, scheduler: str | None, shard: str | None):
    """The Run of the executor options, or None for the default (everything, on this machine)."""
    if executor == "local" and scheduler is None and shard is None:
        return None
    from ..engine.executors import Run, parse_shard

    try:
        parsed = parse_shard(shard) if shard is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None
    if scheduler is not None and executor != "dask":
        raise click.BadParameter("--scheduler needs --executor dask", param_hint="--scheduler")
    return Run(executor, scheduler, parsed)


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
