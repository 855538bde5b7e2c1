"""``lemtrada-asp explain``: the whole criteria tree of one case."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import KB_OPTION, format_option, kb_header, note_before_effective, run_guarded, resource_options


@click.command()
@click.argument("case")
@format_option(["text", "json", "markdown", "html"], "text: an indented tree for a terminal; json: the same tree as one object; markdown: nested lists; "
               "html: the tree drawn as one self-contained page, each criterion with its policy sentence and facts.")
@KB_OPTION
@resource_options
def explain(case: str, output_format: str, kb_dir: Path | None) -> None:
    """Explain the decision on CASE: every criterion evaluated, with its status.

    CASE is one case: a .json or .yaml/.yml file, a .jsonl file of one line, or
    - for standard input. Each criterion shows its status, its policy section
    and, for a leaf, the case facts behind it; failing branches come first,
    then what is missing, then what passed. A denied or pended case ends with
    the fewest changes that would reach approval. --format html draws the tree
    as one self-contained page (no script), each criterion with the policy
    sentence its rule quotes: `explain CASE --format html > case.html`.

    Exit status: 0 explained; 2 invalid input; 3 knowledge base error, or time
    or memory ran out; 4 the case could not be read, or output not written.
    """
    from ..engine.policy import Policy
    from ..render.explain import as_markdown, as_text, tree

    def body() -> None:
        policy = Policy.load(kb_dir)
        decision = policy.decide(case, corrections=True, details=True)
        note_before_effective(0 if policy.in_force(decision) else 1, policy)
        data = tree(decision)
        if output_format == "json":
            click.echo(json.dumps(data, ensure_ascii=False))
        elif output_format == "markdown":
            click.echo(as_markdown(data), nl=False)
        elif output_format == "html":
            from ..analysis.trace import policy_sentences
            from ..render.html import explanation_page

            page = explanation_page(data, policy_sentences(policy.kb), kb_name=policy.kb.name)
            click.echo(page.encode("utf-8"))  # the charset the page declares, whatever the terminal's
        else:
            encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
            click.echo(kb_header(policy.kb))
            click.echo(as_text(data, unicode=encoding == "utf8"))

    run_guarded(body)
