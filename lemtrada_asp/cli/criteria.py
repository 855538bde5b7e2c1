"""``lemtrada-asp criteria``: every criterion with the policy sentences it encodes; the traceability matrix."""

from __future__ import annotations

import html
import json
from pathlib import Path

import click

from .options import KB_OPTION, format_option, run_guarded


@click.command()
@format_option(["text", "json", "markdown", "html"], "text for a terminal; json: one object; markdown or html: tables for a review or a wiki.")
@click.option("--matrix", is_flag=True, help="The traceability matrix instead: each policy sentence, the criteria and rule (file:line) "
              "that encode it, the example cases that exercise each status, and the letter wording (member_wording.yaml key).")
@click.option("--cases", "case_paths", multiple=True, help="With --matrix: the example cases to decide (default: the example suite cases/).")
@KB_OPTION
def criteria(output_format: str, matrix: bool, case_paths: tuple[str, ...], kb_dir: Path | None) -> None:
    """List every criterion and sub-criterion of the knowledge base.

    Each with its id, title, section, kind (all-of, any-of, at-least-N, leaf,
    exclusion), the parameters its texts name, and the exact policy sentences
    it encodes (the KB's quotes/2 facts, each with the rule's file:line and the
    line of the policy text it is found on), and those it declares not
    formalised (not_formalised/3) and why. `check-kb` verifies every quote
    against the policy text shipped in the KB. A rule that reads a parameter
    at a value its sentence does not state is shown under the sentence as a
    departure from the text, with the reason the KB records for it
    (departs_from/3), or as not recorded.

    Exit status: 0 listed; 3 the knowledge base does not load.
    """
    from ..analysis.departures import departures
    from ..analysis.trace import exercised, load_wording, matrix as build_matrix, read_trace
    from ..engine.knowledge import KnowledgeBase

    def body() -> None:
        kb = KnowledgeBase(kb_dir)
        trace = read_trace(kb)
        head = {"kb": kb.name, "policy": kb.manifest.name, "revised": kb.manifest.revised,
                "effective": kb.manifest.effective.isoformat() if kb.manifest.effective else None,
                "source": _shown(str(trace.text.path)) if trace.text else None, "kb_version": kb.version}
        if matrix:
            from ..analysis.suite import default_suite_dir

            rows = build_matrix(trace, exercised(kb, list(case_paths) or [str(default_suite_dir())]), load_wording())
            for r in rows:
                r["rules"] = [_shown(w) for w in r["rules"]]
            if output_format == "json":
                click.echo(json.dumps({**head, "matrix": rows}, ensure_ascii=False))
            elif output_format == "html":
                click.echo(_matrix_html(head, rows))
            else:
                click.echo(_matrix_markdown(head, rows))
            return
        entries = trace.criteria()
        others = [{"subject": q.subject, "text": q.text, "rule": _shown(q.where), "policy_line": q.line, "why": q.why} for q in trace.others()]
        departed = [{**d.as_json(), "rule": _shown(d.where)} for d in departures(kb)]
        for e in entries:
            for s in e["sentences"] + e["not_formalised"]:
                s["rule"] = _shown(s["rule"])
            e["departures"] = [d for d in departed if d["subject"] == e["id"]]
        for o in others:
            o["departures"] = [d for d in departed if d["subject"] == o["subject"] and d["quote"] == o["text"]]
        if output_format == "json":
            click.echo(json.dumps({**head, "criteria": entries, "other": others}, ensure_ascii=False))
        elif output_format == "markdown":
            click.echo(_markdown(head, entries, others))
        elif output_format == "html":
            click.echo(_html(head, entries, others))
        else:
            click.echo(_text(head, entries, others))

    run_guarded(body)


def _shown(where: str) -> str:
    """file:line relative to the working directory when the file is below it."""
    path, sep, line = where.rpartition(":")
    if not sep or not line.isdigit():
        path, line = where, ""
    try:
        path = str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        pass
    return f"{path}:{line}" if line else path


def _params(p: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in p.items())


def _text(head: dict, entries: list[dict], others: list[dict]) -> str:
    lines = [f"{head['policy']}, revised {head['revised']} ({head['kb']}); policy text {head['source']}", ""]
    for e in entries:
        depth = e["id"].count(".")
        pad = "  " * depth
        lines.append(f"{pad}{e['id']}  {e['title']}  [{e['kind']}; {e['section']}]")
        if e["parameters"]:
            lines.append(f"{pad}    parameters: {_params(e['parameters'])}")
        for s in e["sentences"]:
            lines.append(f"{pad}    \"{s['text']}\"  ({s['rule']}; policy line {s['policy_line']})")
        for s in e["not_formalised"]:
            lines.append(f"{pad}    not formalised: \"{s['text']}\": {s['why']}  ({s['rule']})")
        lines += [f"{pad}    {_departure(d)}" for d in e.get("departures", [])]
        if not e["sentences"]:
            lines.append(f"{pad}    (no policy sentence quoted)")
    if others:
        lines += ["", "Other parts of the knowledge base:"]
        for o in others:
            what = f"not formalised ({o['why']})" if o["why"] else "quotes"
            lines.append(f"  {o['subject']}  {what}: \"{o['text']}\"  ({o['rule']})")
            lines += [f"    {_departure(d)}" for d in o.get("departures", [])]
    return "\n".join(lines)


def _departure(d: dict) -> str:
    """A rule that reads a parameter at a value its sentence does not state, and why (departs_from/3)."""
    said = " or ".join(str(n) for n in d["quoted"])
    why = f"recorded: {d['reason']}" if d["reason"] is not None else "NOT RECORDED (check-kb warns; record it with departs_from/3)"
    return f"departs from the text: {d['param']} = {d['value']} where the sentence says {said}; {why}"


def _md(text) -> str:
    from ..render.markup import markdown_escape

    return markdown_escape(str(text)).replace("|", "\\|").replace("\n", " ")


def _markdown(head: dict, entries: list[dict], others: list[dict]) -> str:
    lines = [f"# Criteria of {_md(head['policy'])}, revised {_md(head['revised'])}", "",
             f"Knowledge base {_md(head['kb'])}; policy text {_md(head['source'])}.", "",
             "| Id | Title | Section | Kind | Parameters | Policy sentences |", "|---|---|---|---|---|---|"]
    for e in entries:
        said = "<br>".join(f"\u201c{_md(s['text'])}\u201d ({_md(s['rule'])})" for s in e["sentences"])
        said += "".join(f"<br>*not formalised:* \u201c{_md(s['text'])}\u201d: {_md(s['why'])}" for s in e["not_formalised"])
        said += "".join(f"<br>*{_md(_departure(d))}*" for d in e.get("departures", []))
        lines.append(f"| {_md(e['id'])} | {_md(e['title'])} | {_md(e['section'])} | {e['kind']} | {_md(_params(e['parameters']))} | {said} |")
    if others:
        lines += ["", "## Other parts of the knowledge base", "", "| Part | Sentence | Rule |", "|---|---|---|"]
        for o in others:
            lines.append(f"| {_md(o['subject'])} | {'*not formalised:* ' if o['why'] else ''}\u201c{_md(o['text'])}\u201d | {_md(o['rule'])} |")
    return "\n".join(lines) + "\n"


def _h(text) -> str:
    return html.escape(str(text))


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_h(title)}</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px;vertical-align:top}</style>"
            f"</head><body>\n<h1>{_h(title)}</h1>\n{body}\n</body></html>")


def _html(head: dict, entries: list[dict], others: list[dict]) -> str:
    rows = []
    for e in entries:
        said = "".join(f"<li>&ldquo;{_h(s['text'])}&rdquo; <code>{_h(s['rule'])}</code></li>" for s in e["sentences"])
        said += "".join(f"<li><em>not formalised:</em> &ldquo;{_h(s['text'])}&rdquo;: {_h(s['why'])}</li>" for s in e["not_formalised"])
        said += "".join(f"<li><em>{_h(_departure(d))}</em></li>" for d in e.get("departures", []))
        rows.append(f"<tr><td>{_h(e['id'])}</td><td>{_h(e['title'])}</td><td>{_h(e['section'])}</td><td>{_h(e['kind'])}</td>"
                    f"<td>{_h(_params(e['parameters']))}</td><td><ul>{said}</ul></td></tr>")
    table = ("<table><tr><th>Id</th><th>Title</th><th>Section</th><th>Kind</th><th>Parameters</th><th>Policy sentences</th></tr>\n"
             + "\n".join(rows) + "</table>")
    extra = "".join(f"<li>{_h(o['subject'])}: &ldquo;{_h(o['text'])}&rdquo; <code>{_h(o['rule'])}</code></li>" for o in others)
    return _page(f"Criteria of {head['policy']}, revised {head['revised']}", table + (f"<h2>Other parts</h2><ul>{extra}</ul>" if extra else ""))


def _cases(cases: dict) -> list[str]:
    return [f"{ident} {status}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for ident, by in cases.items() for status, names in sorted(by.items())]


def _matrix_markdown(head: dict, rows: list[dict]) -> str:
    lines = [f"# Traceability matrix: {_md(head['policy'])}, revised {_md(head['revised'])}", "",
             f"Knowledge base {_md(head['kb'])}; policy text {_md(head['source'])}.", "",
             "| Line | Policy sentence | Criteria | Rule | Example cases by status | Letter wording |", "|---|---|---|---|---|---|"]
    for r in rows:
        sentence = _md(r["sentence"]) + "".join(f"<br>*not formalised:* {_md(w)}" for w in r["not_formalised"])
        lines.append(
            f"| {r['policy_line'] or ''} | {sentence} | {_md(', '.join(r['criteria'])) or '**none**'} | {'<br>'.join(_md(w) for w in r['rules'])} | "
            f"{'<br>'.join(_md(c) for c in _cases(r['cases']))} | {_md(', '.join(r['letter']))} |"
        )
    return "\n".join(lines) + "\n"


def _matrix_html(head: dict, rows: list[dict]) -> str:
    out = []
    for r in rows:
        nf = "".join(f"<br><em>not formalised:</em> {_h(w)}" for w in r["not_formalised"])
        out.append(
            f"<tr><td>{r['policy_line'] or ''}</td><td>{_h(r['sentence'])}{nf}</td><td>{_h(', '.join(r['criteria'])) or '<strong>none</strong>'}</td>"
            f"<td>{'<br>'.join(f'<code>{_h(w)}</code>' for w in r['rules'])}</td><td>{'<br>'.join(_h(c) for c in _cases(r['cases']))}</td>"
            f"<td>{_h(', '.join(r['letter']))}</td></tr>"
        )
    table = ("<table><tr><th>Line</th><th>Policy sentence</th><th>Criteria</th><th>Rule</th><th>Example cases by status</th><th>Letter wording</th></tr>\n"
             + "\n".join(out) + "</table>")
    return _page(f"Traceability matrix: {head['policy']}, revised {head['revised']}", table)
