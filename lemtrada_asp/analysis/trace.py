"""Traceability: the policy sentence behind every rule, checked against the policy's text.

A KB links its rules to the policy with two kinds of data fact, written directly
above the rule that encodes the sentence:

``quotes(Subject, Sentence)``
    the rule below encodes Sentence, verbatim from the policy text (whitespace
    and the text's emphasis marks aside). Subject is a criterion id (a string, as
    in criterion/3) or a term naming another part of the KB (advisory(rems),
    pend_rule(case_by_case), ...).
``not_formalised(Subject, Sentence, Why)``
    Sentence is deliberately not encoded, for the reason Why.

A sentence *states a criterion* when it is, in the policy text from the heading
"Clinical Indications" to "References": a numbered or lettered list item (``1.``,
``a.``, ``i.``, ``o``) or a bullet of the exclusions list (its first sentence), a
paragraph opening the criteria ("The Plan considers ..."), an authorisation
paragraph ("If the above ..."), the first sentence of a NOTE, or the caption of a
billing table (the line after "Table N"). Every such sentence must be quoted (or be
declared not formalised) by some fact: a quote covers a sentence when it is part of
it, or when the sentence (of 30 characters or more) is part of the quote.

``check-kb`` reports a quote that is not in the text, and a sentence that states a
criterion with no quote, each with its file and line. ``criteria`` lists every
criterion with the sentences it encodes; ``criteria --matrix`` adds, per sentence,
the rule's file:line, the example cases that exercise each status, and the letter
wording that explains it to a member.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from clingo import Symbol, SymbolType

from ..engine.catalogue import _PLACEHOLDER, criterion_sort_key, kind_words
from ..engine.knowledge import KnowledgeBase

__all__ = ["PolicyText", "Quote", "Statement", "Trace", "normalise", "policy_sentences", "read_trace"]

MIN_CONTAINED = 30  # a sentence this long may be covered by a longer quote that contains it
_MARKS = re.compile(r"\^\[[^\]]*\]|\^\([^)]*\)|\*|[\u2070-\u209f\u00b9\u00b2\u00b3]")
_ITEM = re.compile(r"^(?:-\s+)?(?:\d+\.|[a-z]\.|[ivx]+\.|o)\s+(?P<text>.+)$")
_BULLET = re.compile(r"^-\s+(?P<text>.+)$")
_CONNECTOR = re.compile(r"\s*;?\s*(?:and/or|AND/OR|and|AND|or|OR)?\s*$")
_OPENERS = ("The Plan considers", "If the above")
# The headings that open a part of the guideline's body (the section of a sentence).
SECTIONS = ("Medical Necessity Criteria for", "Experimental or Investigational", "Applicable Billing Codes")


def normalise(text: str) -> str:
    """Whitespace collapsed, the text's emphasis and footnote marks (*, ^[s], ⁵) removed."""
    return " ".join(_MARKS.sub("", text).split())


@dataclass
class Statement:
    """A sentence of the policy that states a criterion."""

    line: int
    section: str
    text: str
    covered_by: list["Quote"] = field(default_factory=list)


@dataclass
class Quote:
    """A quotes/2 or not_formalised/3 fact of the KB."""

    subject: str  # a criterion id, or the term of another part of the KB
    criterion: bool  # subject is a criterion id (a string)
    text: str
    where: str  # file:line of the fact
    why: str | None = None  # not_formalised: the reason
    line: int | None = None  # the line of the policy text where it is found

    @property
    def formalised(self) -> bool:
        return self.why is None

    @property
    def file_line(self) -> tuple[str, int]:
        path, _, line = self.where.rpartition(":")
        return path, int(line) if line.isdigit() else 0


class PolicyText:
    """The policy's text, normalised, with the line every part of it comes from."""

    def __init__(self, path: Path):
        self.path = path
        self.lines = path.read_text(encoding="utf-8").splitlines()
        parts: list[str] = []
        self._starts: list[tuple[int, int]] = []  # (offset in text, line number)
        offset = 0
        for number, line in enumerate(self.lines, 1):
            norm = normalise(line)
            if not norm:
                continue
            self._starts.append((offset, number))
            parts.append(norm)
            offset += len(norm) + 1
        self.text = " ".join(parts)

    def find(self, quote: str) -> int | None:
        """The line a quote starts on, or None when it is not in the text verbatim."""
        at = self.text.find(normalise(quote))
        if at < 0 or not normalise(quote):
            return None
        line = self._starts[0][1]
        for offset, number in self._starts:
            if offset > at:
                break
            line = number
        return line

    def statements(self) -> list[Statement]:
        """The sentences that state a criterion (see the module's docstring)."""
        found: list[Statement] = []
        try:
            start = next(i for i, l in enumerate(self.lines) if l.strip() == "Clinical Indications")
        except StopIteration:
            start = 0
        section = ""
        after_table = False
        for index in range(start, len(self.lines)):
            raw = self.lines[index].strip()
            if raw == "References":
                break
            if not raw:
                continue
            number = index + 1
            text = normalise(raw)
            if after_table:
                after_table = False
                found.append(Statement(number, section, text))
                continue
            if re.fullmatch(r"Table \d+", text):
                after_table = True
                continue
            item = _ITEM.match(text)
            bullet = _BULLET.match(text)
            if item or bullet:
                body = (item or bullet).group("text")
                if bullet and not item:
                    body = _first_sentence(body)
                body = _CONNECTOR.sub("", body).strip() or body
                found.append(Statement(number, section, body))
            elif text.startswith(_OPENERS):
                found.append(Statement(number, section, text))
            elif "NOTE:" in text:
                found.append(Statement(number, section, _first_sentence(text.split("NOTE:", 1)[1].strip())))
            elif text.startswith(SECTIONS):
                section = normalise(text.split("^")[0])
        return found


def _first_sentence(text: str) -> str:
    end = re.search(r"\.(\s|$)", text)
    return text[: end.start() + 1] if end else text


def covers(quote: str, sentence: str) -> bool:
    q, s = normalise(quote), normalise(sentence)
    return bool(q) and (q in s or (len(s) >= MIN_CONTAINED and s in q))


# --- the KB's side --------------------------------------------------------------------


@dataclass
class Trace:
    kb: KnowledgeBase
    text: PolicyText | None
    quotes: list[Quote]
    statements: list[Statement]
    raw: dict[str, dict[str, str]]  # criterion id -> {"title", "needed", "change"}: texts before {param} filling

    def of(self, ident: str) -> list[Quote]:
        return [q for q in self.quotes if q.criterion and q.subject == ident]

    def parameters(self, ident: str) -> dict[str, int]:
        """The parameters a criterion's texts name ({name}), with their values."""
        names: list[str] = []
        for text in self.raw.get(ident, {}).values():
            for match in _PLACEHOLDER.finditer(text):
                names += [n for n in match.group(1).split("*") if n not in names]
        params = self.kb.catalogue.params
        return {n: params[n] for n in names if n in params}

    def criteria(self) -> list[dict[str, Any]]:
        """Every criterion and sub-criterion, in the policy's order, each with its sentences."""
        catalogue = self.kb.catalogue
        out = []
        for ident in _tree_order(catalogue):
            c = catalogue.info(ident)
            out.append({
                "id": ident,
                "title": c.title,
                "section": c.section,
                "kind": _kind(c.kind),
                "children": list(c.children),
                "parameters": self.parameters(ident),
                "sentences": [{"text": q.text, "rule": q.where, "policy_line": q.line} for q in self.of(ident) if q.formalised],
                "not_formalised": [{"text": q.text, "why": q.why, "rule": q.where, "policy_line": q.line}
                                   for q in self.of(ident) if not q.formalised],
            })
        return out

    def others(self) -> list[Quote]:
        """Quotes of parts of the KB that are not criteria (advisories, pend rules, ...)."""
        return [q for q in self.quotes if not q.criterion]

    def problems(self) -> list[tuple[str, str]]:
        """(file:line, message) for check-kb: quotes not in the text, sentences no rule quotes."""
        found: list[tuple[str, str]] = []
        if self.text is None:
            return found
        ids = set(self.kb.catalogue.criteria)
        for q in self.quotes:
            if q.line is None:
                found.append((q.where, f"the quoted sentence is not in the policy text {self.text.path} (verbatim, whitespace aside): \"{q.text}\""))
            if q.criterion and q.subject not in ids:
                found.append((q.where, f"the quote names criterion {q.subject}, which the catalogue does not declare (criterion/3)"))
        for s in self.statements:
            if not s.covered_by:
                found.append((f"{self.text.path}:{s.line}",
                              f"this sentence states a criterion but no rule quotes it (quotes/2) and it is not declared "
                              f"not formalised (not_formalised/3): \"{s.text}\""))
        return found

    def unquoted_criteria(self) -> list[str]:
        return [i for i in _tree_order(self.kb.catalogue) if not self.of(i)]


def findings(kb: KnowledgeBase) -> list:
    """check-kb's findings (soundness.Finding): problems of the quotes, warnings for unquoted criteria."""
    from .soundness import Finding

    trace = read_trace(kb)
    if trace.text is None:
        return [Finding(str(kb.directory), "the knowledge base ships no policy text (policy.toml source): quotes are not checked", "warning")]
    found = [Finding(where, message) for where, message in trace.problems()]
    for ident in trace.unquoted_criteria():
        found.append(Finding(str(kb.root), f"criterion {ident} quotes no policy sentence (quotes/2)", "warning"))
    return found


def _kind(kind: str) -> str:
    words = kind_words(kind)
    return words.replace(" of", "").replace(" ", "-") + ("-of" if words.endswith(" of") else "")


def _tree_order(catalogue) -> list[str]:
    """Top-level criteria and exclusions in the policy's order, each followed by its sub-criteria."""
    seen: list[str] = []

    def walk(ident: str) -> None:
        if ident in seen:
            return
        seen.append(ident)
        for child in catalogue.info(ident).children:
            walk(child)

    tops = [i for i in catalogue.criteria if i not in catalogue._parents]
    for ident in catalogue.in_policy_order(tops):
        walk(ident)
    return seen


def read_trace(kb: KnowledgeBase) -> Trace:
    from .program import read_source

    source = read_source(kb)
    path = kb.source_text
    text = PolicyText(path) if path is not None and path.is_file() else None
    quotes: list[Quote] = []
    raw: dict[str, dict[str, str]] = {}
    for symbol, where in source.facts.items():
        args = symbol.arguments
        if symbol.name == "quotes" and len(args) == 2 and args[1].type == SymbolType.String:
            quotes.append(Quote(_subject(args[0]), args[0].type == SymbolType.String, args[1].string, where))
        elif symbol.name == "not_formalised" and len(args) == 3 and args[1].type == SymbolType.String:
            quotes.append(Quote(_subject(args[0]), args[0].type == SymbolType.String, args[1].string, where, why=_subject(args[2])))
        elif symbol.name in ("criterion", "needed", "change_text") and len(args) >= 2 and args[0].type == SymbolType.String:
            key = {"criterion": "title", "needed": "needed", "change_text": "change"}[symbol.name]
            if args[1].type == SymbolType.String:
                raw.setdefault(args[0].string, {})[key] = args[1].string
    quotes.sort(key=lambda q: (q.file_line, q.subject))
    statements = text.statements() if text is not None else []
    if text is not None:
        for q in quotes:
            q.line = text.find(q.text)
        for s in statements:
            s.covered_by = [q for q in quotes if covers(q.text, s.text)]
    return Trace(kb, text, quotes, statements, raw)


def _subject(symbol: Symbol) -> str:
    return symbol.string if symbol.type == SymbolType.String else str(symbol)


# --- the matrix: sentence <-> criterion <-> rule <-> cases <-> letter -----------------------


def exercised(kb: KnowledgeBase, paths: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """criterion -> status -> the example cases (file names) in which it has that status."""
    from ..engine.batch import Options, decide_paths
    from ..engine.engine import Engine

    found: dict[str, dict[str, list[str]]] = {}
    for result in decide_paths(list(paths), Engine(kb), options=Options(details=True)):
        if not result.ok or result.statuses is None:
            continue
        name = Path(result.source.split(":")[0]).name
        for ident, status in result.statuses.items():
            found.setdefault(ident, {}).setdefault(status, []).append(name)
    return found


def matrix(trace: Trace, cases: dict[str, dict[str, list[str]]], wording: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per sentence of the policy that states a criterion, then one per other quote."""
    rows: list[dict[str, Any]] = []
    used: set[int] = set()

    def letter(subject: str) -> list[str]:
        if subject in (wording.get("criteria") or {}):
            return [f"criteria.{subject}.{k}" for k in wording["criteria"][subject]]
        match = re.fullmatch(r"advisory\((\w+)\)", subject)
        if match and match.group(1) in (wording.get("advisories") or {}):
            return [f"advisories.{match.group(1)}"]
        return []

    def row(sentence: str, line: int | None, quotes: list[Quote], section: str = "") -> dict[str, Any]:
        subjects = list(dict.fromkeys(q.subject for q in quotes))
        return {
            "sentence": sentence,
            "policy_line": line,
            "section": section,
            "criteria": subjects,
            "rules": list(dict.fromkeys(q.where for q in quotes)),
            "formalised": any(q.formalised for q in quotes) or not quotes,
            "not_formalised": [q.why for q in quotes if not q.formalised],
            "cases": {s: cases.get(s, {}) for s in subjects if trace.kb.catalogue.criteria.get(s)},
            "letter": [key for s in subjects for key in letter(s)],
        }

    for s in trace.statements:
        rows.append(row(s.text, s.line, s.covered_by, s.section))
        used.update(id(q) for q in s.covered_by)
    for q in trace.quotes:
        if id(q) not in used:
            rows.append(row(q.text, q.line, [q]))
    return rows


def load_wording() -> dict[str, Any]:
    import yaml

    path = Path(__file__).resolve().parent.parent / "render" / "templates" / "member_wording.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}


def sort_ids(ids: Iterable[str]) -> list[str]:
    return sorted(ids, key=criterion_sort_key)


def policy_sentences(kb) -> dict[str, list[dict[str, Any]]]:
    """Criterion id -> the policy sentences its rules quote (quotes/2), with their line in the policy text."""
    found: dict[str, list[dict[str, Any]]] = {}
    for quote in read_trace(kb).quotes:
        if quote.criterion and quote.formalised:
            found.setdefault(quote.subject, []).append({"text": quote.text, "policy_line": quote.line})
    return found
