"""What every command shares: the options, and errors turned into messages and exit statuses.

Exit status: 0 every case decided (whatever the decisions); 1 a test failed or
something changed (test, diff, check-kb); 2 some input was invalid (every other
case is still decided and printed); 3 the knowledge base does not load or is
unsound, or time (--timeout) or memory (--memory) ran out grounding or solving;
4 a file could not be read or written (I/O); 130 / 143 stopped by SIGINT /
SIGTERM; 141 standard output closed early (`| head`), quietly. Errors are
messages, never tracebacks.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path

import click

from ..engine import guard
from ..engine.errors import IO_EXIT_STATUS, KnowledgeBaseError, LemtradaError

_KB = click.option(
    "--kb",
    "kb_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Knowledge base directory (holding policy.toml, or an overlay.toml naming its base). Default: the KB shipped with the package.",
)
_OVERLAY = click.option(
    "--overlay",
    "overlays",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    multiple=True,
    help="An overlay directory: a change written as only what differs from --kb (replaced rule files, "
         "overlay.lp, overlay.toml parameters and removals). Repeat to stack overlays.",
)


def KB_OPTION(command):
    """--kb DIR and --overlay CHANGE (repeatable): the command gets kb_dir, a KbRef when overlays are given."""

    @functools.wraps(command)
    def with_overlays(*args, overlays: tuple[Path, ...] = (), **kwargs):
        if overlays:
            from ..engine.knowledge import KbRef

            kwargs["kb_dir"] = KbRef(kwargs.get("kb_dir"), overlays)
        return command(*args, **kwargs)

    return _KB(_OVERLAY(with_overlays))

PLAN_OPTION = click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The plan's settings (name, phone, appeal address, ...: see lemtrada_asp/notices/plan.example.yaml). "
         "Default: the file in $LEMTRADA_PLAN, else only the TTY number is set and the rest print as [missing: ...].",
)

JOBS_OPTION = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for large batches (at least 1; more than the cores available starts only as many as there are cores). "
         "Default: all cores. Output order is input order either way.",
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


def resource_options(command):
    """--timeout and --memory for a command that grounds or solves (engine/guard.py).

    Past either the command stops with exit status 3 and a message naming the
    program part that was running and what ran out.
    """

    @functools.wraps(command)
    def bounded(*args, timeout: float, memory_mb: int, **kwargs):
        bounds = guard.install(timeout, memory_mb)
        try:
            return command(*args, **kwargs)
        finally:
            bounds.undo()

    bounded = click.option(
        "--memory",
        "memory_mb",
        type=click.IntRange(min=0),
        default=guard.DEFAULT_MEMORY_MB,
        show_default=True,
        help="Memory bound in MB for each process that grounds or solves (address space, RLIMIT_AS); 0: none. "
             "Past it: exit status 3, naming the program part that was running.",
    )(bounded)
    bounded = click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=guard.DEFAULT_TIMEOUT,
        show_default=True,
        help="Seconds any one program part may run: a grounding, a solve, a chunk of cases in the workers, "
             "an exhaustive analysis (no real KB comes near); 0: no limit. Past it: exit status 3, naming the part.",
    )(bounded)
    return bounded


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


INTERRUPTED = 130  # SIGINT (Ctrl-C); SIGTERM is 143: 128 + the signal, as a shell reports it
CLOSED_OUTPUT = 141  # standard output closed by its reader (`| head`): 128 + SIGPIPE, quietly
IO_ERROR = IO_EXIT_STATUS  # 4: a file could not be read or written (disk full, permissions)


def finish(status: int) -> None:
    """Exit with status; after a batch stopped mid-way, without waiting for its pool's threads."""
    from ..engine.batch import pools_abandoned, release_abandoned

    if pools_abandoned():
        release_abandoned()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - closed or full: nothing more can be said
                pass
        os._exit(status)
    sys.exit(status)


def quiet_closed_output() -> None:
    """The reader of standard output went away (`decide big.jsonl | head -1`): end quietly.

    Standard output is pointed at /dev/null so that Python's own flush at exit has
    nowhere to fail and print a traceback.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finish(CLOSED_OUTPUT)


def fail_io(exc: OSError, where: str | None = None, verb: str | None = None) -> None:
    """An I/O error as a plain message and exit status 4."""
    if where is None and not exc.filename:
        where, verb = "standard output", verb or "write"
    from ..render.text import printable  # a file name is whoever made it: escaped

    where = printable(where or str(exc.filename))
    reason = exc.strerror or str(exc)
    click.echo(f"error: cannot {verb or 'read or write'} {where}: {reason}", err=True)
    try:  # output that could not be written must not fail again at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finish(IO_ERROR)


@contextlib.contextmanager
def atomic_output(path: Path, binary: bool = False):
    """A text stream whose content replaces path only when whole: a temporary file in the
    same directory, then os.replace.

    Two writers at once leave one whole file, never a mix; a failed write leaves the
    old file as it was and no temporary file behind. Raises OSError (reported with
    exit status 4 by the commands).
    """
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)  # as open() would have made it, not mkstemp's 0600
        with (os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8")) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_atomically(path: Path, content: str | bytes) -> None:
    """A whole text (UTF-8) or binary file (a PDF), written as atomic_output does."""
    with atomic_output(path, binary=isinstance(content, bytes)) as stream:
        stream.write(content)


class IsoDate(click.ParamType):
    """A date as YYYY-MM-DD; one that does not exist (2026-02-30) is said to not exist."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        import calendar
        import re
        from datetime import date

        if isinstance(value, date):
            return value
        match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", str(value))
        if not match:
            self.fail(f"{value!r} is not a date written as YYYY-MM-DD", param, ctx)
        year, month, day = (int(g) for g in match.groups())
        if not 1 <= month <= 12:
            self.fail(f"{value} does not exist: there is no month {month}", param, ctx)
        days = calendar.monthrange(year, month)[1] if year >= 1 else 31
        if not 1 <= day <= days:
            self.fail(
                f"{value} does not exist: {calendar.month_name[month]} {year} has {days} days", param, ctx
            )
        try:
            return date(year, month, day)
        except ValueError as exc:
            self.fail(f"{value} does not exist: {exc}", param, ctx)


def _fail(exc: LemtradaError) -> None:
    from ..engine.errors import InputError

    kind = "knowledge base error" if isinstance(exc, KnowledgeBaseError) else "error"
    if isinstance(exc, InputError):  # names a file or case: its control characters escaped
        from ..render.text import error_text

        click.echo(f"{kind}: {error_text(exc.as_json())}", err=True)
    else:
        click.echo(f"{kind}: {exc}", err=True)
    finish(exc.exit_status)


def run_guarded(body) -> None:
    """Run a command body; this package's errors become a message and an exit status."""
    try:
        body()
        sys.stdout.flush()  # a full disk must be reported here, not ignored at exit
    except LemtradaError as exc:
        _fail(exc)
    except MemoryError:
        _fail(guard.memory_error())
    except KeyboardInterrupt:
        finish(INTERRUPTED)
    except BrokenPipeError:
        quiet_closed_output()
    except OSError as exc:
        fail_io(exc)
    except Exception as exc:  # a bug of ours: still a message, the traceback on request
        if isinstance(exc, RuntimeError) and guard.is_memory_message(str(exc)):
            _fail(guard.memory_error())
        if os.environ.get("LEMTRADA_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} (set LEMTRADA_DEBUG=1 for the traceback)", err=True)
        finish(1)


def note_before_effective(count: int, policy) -> None:
    """Say on standard error how many cases were dated before the KB's effective date
    (criteria.md, "Policy in force"): they were decided, but never silently, since the
    revision that decided them was not yet in force on their request date."""
    if not count:
        return
    kb = policy.kb.manifest
    revision = f", revised {kb.revised}" if getattr(kb, "revised", None) else ""
    were = "case was" if count == 1 else "cases were"
    click.echo(
        f"note: {count:,} {were} dated before {policy.effective_date}, the date this knowledge base "
        f"({kb.name}{revision}) is in force from; {'it was' if count == 1 else 'each was'} still decided under it. "
        "--versions DIR decides each under the policy version then in force.",
        err=True,
    )


def shown_path(path: Path) -> str:
    """A path as a reader would type it: relative to the working directory when inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def kb_header(kb) -> str:
    """The first line of a text output: which KB decided (its path, overlays, policy and version).

    Why: after a plain ``pip install .`` the installed copy decides, not ``kb/`` of the
    checkout; a reader must see which one it was without guessing.
    """
    names = " + ".join([shown_path(kb.directory), *(shown_path(o.directory) for o in kb.overlays)])
    manifest = kb.manifest
    return f"knowledge base: {names} ({manifest.name}, revised {manifest.revised}; {kb.version})"
