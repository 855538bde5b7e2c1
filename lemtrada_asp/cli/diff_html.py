"""``diff --format html``: the report page of a corpus diff (render/html.diff_report), with each changed case's trees.

Apart from diff.py so that the text and JSON paths stay as they were: this module only
collects, for the changed cases diff.py finds, the trees the page draws.
"""

from __future__ import annotations

import json

import click

__all__ = ["HtmlReport"]


class HtmlReport:
    """The changed cases' trees under both KBs, and the page written from the spool of changes.

    The base result of a changed case holds its tree already (compare_paths decided it
    with details); the edited side is decided again, a batch at a time (one case at a
    time costs several times more), for the first TREES_AT_MOST changed cases only.
    """

    BATCH = 100  # changed cases decided again together

    def __init__(self, base_dir, kb_dir):
        from ..engine.knowledge import KnowledgeBase

        self.base_kb, self.kb = KnowledgeBase(base_dir), KnowledgeBase(kb_dir)
        self._engine = None
        self._pending: list = []  # (change as JSON, base result), waiting for their trees
        self._drawn = 0

    def keep(self, spool, line: dict, base) -> None:
        self._pending.append((line, base))
        if len(self._pending) >= self.BATCH:
            self.flush(spool)

    def flush(self, spool) -> None:
        from ..engine.engine import Engine
        from ..render import html
        from ..render.explain import tree

        drawn = self._pending[: max(0, html.TREES_AT_MOST - self._drawn)]
        if drawn:
            self._engine = self._engine or Engine(self.kb)
            edited = self._engine.decide([(base.source, base.record.case) for _, base in drawn], details=True)
            for (line, base), record in zip(drawn, edited):
                line["trees"] = {"base": tree(base.record), "kb": tree(record)}
            self._drawn += len(drawn)
        for line, _ in self._pending:
            spool.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._pending = []

    def report(self, summary: dict, spool) -> None:
        from ..analysis.trace import policy_sentences
        from ..render.html import diff_report

        def changes():
            spool.seek(0)
            return (json.loads(line) for line in spool)

        for chunk in diff_report(summary, changes, policy_sentences(self.base_kb), policy_sentences(self.kb)):
            click.echo(chunk.encode("utf-8"), nl=False)  # the charset the page declares, whatever the terminal's
        click.echo(b"")
