"""The ``lemtrada-asp`` command line.

Exit status: 0 every case decided (whatever the decisions); 2 some input was
invalid (every other case is still decided and printed); 3 the knowledge base
does not load or is unsound. Errors are messages, never tracebacks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import InputError, KnowledgeBaseError, LemtradaError

KB_OPTION = click.option(
    "--kb",
    "kb_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Knowledge base directory (holding lemtrada.lp). Default: the KB shipped with the package.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lemtrada-asp")
def main() -> None:
    """Prior authorization for Lemtrada (alemtuzumab) in MS, decided by clingo.

    The policy's criteria are Answer Set Programming rules in the knowledge base
    (kb/); each decision names the criteria that failed, why, and where in the
    policy they come from.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a summary per case; json: one JSON object per line (decision format v1).",
)
@KB_OPTION
def decide(paths: tuple[str, ...], output_format: str, kb_dir: Path | None) -> None:
    """Decide the cases in PATHS.

    A PATH is a .json or .yaml/.yml case file, a .jsonl file of one case per
    line, a directory (every case file below it), or - for standard input.
    Invalid cases are reported on standard error (and, with --format json, as
    an error object in their place in the output); the rest are still decided.
    """
    from .engine import Engine, decide_items
    from .kbase import KnowledgeBase
    from .loading import iter_items, reject_duplicate_ids
    from .render import as_json_line, as_text, error_text

    try:
        engine = Engine(KnowledgeBase(kb_dir))
        invalid = 0
        first = True
        for result in decide_items(engine, reject_duplicate_ids(iter_items(paths))):
            if isinstance(result, InputError) or getattr(result, "error", None) is not None:
                error = result if isinstance(result, InputError) else result.error
                invalid += 1
                click.echo(error_text(error), err=True)
                if output_format == "json":
                    click.echo(as_json_line(error))
                continue
            if output_format == "json":
                click.echo(as_json_line(result))
            else:
                if not first:
                    click.echo("")
                click.echo(as_text(result))
                first = False
    except KnowledgeBaseError as exc:
        _fail(exc)
    except LemtradaError as exc:
        _fail(exc)
    if invalid:
        click.echo(f"{invalid} invalid case{'s' if invalid != 1 else ''}; the others were decided.", err=True)
        sys.exit(InputError.exit_status)


def _fail(exc: LemtradaError) -> None:
    kind = "knowledge base error" if isinstance(exc, KnowledgeBaseError) else "error"
    click.echo(f"{kind}: {exc}", err=True)
    sys.exit(exc.exit_status)


if __name__ == "__main__":  # pragma: no cover
    main()
