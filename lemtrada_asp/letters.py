"""The notice the plan sends about a request, drafted for a clinical reviewer to sign.

A medical-necessity denial is a clinician's decision, so every letter is a DRAFT with
a sign-off block. Its content follows what utilization-management notices must carry
(NCQA UM 7; 42 CFR 422.568(e), 438.404): each criterion not met and exclusion applied,
by name and policy source; the reason in terms of the member's own facts; what could
lead to approval; the free copy of the criteria; appeal rights, expedited included.

What is said comes from the decision (the KB's atoms, its catalogue, its corrections);
how it is said to members comes from templates/member_wording.yaml; the layout is the
Jinja templates in templates/. This module only gathers the facts and picks words.
One body template (letter.j2) serves every format: it calls layout macros from
templates/format/<format>.j2, so the three formats cannot say different things.
"""

from __future__ import annotations

import re
import textwrap
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
import yaml
from clingo import Symbol, SymbolType

from .dates import last_dose
from .decision import Decision
from .explain import markdown_escape
from .kbase import criterion_sort_key
from .model import DMT_ALIASES

FORMATS = ("markdown", "html", "text")
_FORMAT_FILES = {"markdown": "format/markdown.j2", "html": "format/html.j2", "text": "format/text.j2"}


@lru_cache(maxsize=None)
def _environment(output_format: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lemtrada_asp", "templates"),
        autoescape=output_format == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not a blank in a letter
        extensions=["jinja2.ext.do"],
    )
    esc = markdown_escape if output_format == "markdown" else str
    env.filters["esc"] = esc
    env.filters["wrap"] = _wrap
    env.filters["sentence_item"] = lambda option: {"text": " ".join(esc(s) for s in option)}
    env.filters["correction_line"] = _correction_line
    env.filters["hcpcs_line"] = lambda code: f"HCPCS {code['code']}: {code['units']} units."
    return env


@lru_cache(maxsize=None)
def _data(name: str) -> dict[str, Any]:
    return yaml.safe_load((resources.files("lemtrada_asp") / "templates" / name).read_text(encoding="utf-8"))


def wording() -> dict[str, Any]:
    """The member-facing wording (templates/member_wording.yaml)."""
    return _data("member_wording.yaml")


def settings() -> dict[str, Any]:
    """What the notice says about the plan (templates/letter_settings.yaml)."""
    return _data("letter_settings.yaml")


def render_letter(decision: Decision, output_format: str = "markdown", today: date | None = None) -> str:
    """The whole notice: member part, prescriber part, reviewer sign-off."""
    return _render(decision, output_format, today, part="all")


def member_text(decision: Decision, today: date | None = None) -> str:
    """Only what the member reads (no header, prescriber part or sign-off), as plain text
    with one heading, paragraph or list item a line: what the reading-level test measures.

    Rendered as markdown and stripped of its markup, because markdown does not wrap
    lines: a line break inside a sentence would count as a sentence end.
    """
    text = _render(decision, "markdown", today, part="member")
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^(#+|-|>|\d+\.)\s+", "", line.strip()).replace("**", "").replace("*", "")
        lines.append(re.sub(r"\\(.)", r"\1", line))
    return "\n".join(lines)


def _render(decision: Decision, output_format: str, today: date | None, part: str) -> str:
    if output_format not in FORMATS:
        raise ValueError(f"unknown letter format {output_format!r}; expected one of {', '.join(FORMATS)}")
    env = _environment(output_format)
    context = LetterFacts(decision, env).context(today or date.today())
    context.update(part=part, fmt=_FORMAT_FILES[output_format])
    text = env.get_template("letter.j2").render(context)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"  # the layout's blank lines, at most one in a row


class LetterFacts:
    """What one letter says, gathered from a decision, in the member's words where they read it."""

    def __init__(self, decision: Decision, env: jinja2.Environment):
        self.decision = decision
        self.case = decision.case
        self.catalogue = decision.catalogue
        self.env = env
        self.words = wording()
        self.params = dict(self.catalogue.params)

    # --- the context of letter.j2 -----------------------------------------------------
    def context(self, today: date) -> dict[str, Any]:
        d = self.decision
        data = d.as_json()
        name, revised = self.catalogue.guideline
        return {
            "kind": d.decision,
            "pend_reason": d.pend_reason,
            "case_id": d.case.id,
            "today": long_date(today),
            "received": long_date(d.case.request.date),
            "course": d.outcome.course,
            "review_type": d.outcome.review,
            "guideline": {"name": name, "revised": revised, "revised_long": _us_date_words(revised)},
            "plan": settings(),
            "reasons": [self._reason(i) for i in d.failed_ids()],
            "requests": [item for i in d.missing_ids() for item in self._requests(i)],
            "fixes": self._fixes(),
            "partly_fixable": any(c["actionable"] for changes in d.corrections or [] for c in changes),
            "approved": data["authorized"],
            "member_advisories": [self.text(self.words["advisories"].get(i, t)) for i, t in self._advisory_ids()],
            "clinical": self._clinical(data),
        }

    def text(self, template: str, **values: Any) -> str:
        """One wording text, filled in with the KB's parameters and the facts given."""
        return self.env.from_string(template).render(p=self.params, **values).strip()

    def criterion(self, ident: str, field: str) -> str | None:
        entry = self.words["criteria"].get(ident) or {}
        return self.text(entry[field]) if entry.get(field) else None

    # --- denial: each failed criterion, its rule, the member's facts, its source ----------------
    def _reason(self, ident: str) -> dict[str, Any]:
        info = self.catalogue.info(ident)
        found: list[str] = []
        for leaf in self._failing_leaves(ident):
            for evidence in self.decision.outcome.because.get(leaf, []):
                sentence = self._found(evidence)
                if sentence and sentence not in found:
                    found.append(sentence)
        return {
            "id": ident,
            "title": self.criterion(ident, "title") or info.title,
            "rule": self.criterion(ident, "rule") or info.title,
            "found": found,
            "section": info.section,
            "exclusion": info.kind == "exclusion",
        }

    def _failing_leaves(self, ident: str) -> list[str]:
        """The leaves of the minimal failing branch (reason/3), in catalogue order."""
        children = sorted(self.decision.outcome.reasons.get(ident, []), key=criterion_sort_key)
        if not children:
            return [ident]
        return [leaf for child in children for leaf in self._failing_leaves(child)]

    def _found(self, evidence: Symbol) -> str | None:
        """A case fact in the member's words (templates/member_wording.yaml, evidence)."""
        if evidence.type != SymbolType.Function:
            return None
        texts = self.words["evidence"]
        name, args = evidence.name, evidence.arguments
        template = texts.get(name)
        if isinstance(template, dict):  # absent / none_listed: one text per field
            template = template.get(args[0].string if args[0].type == SymbolType.String else args[0].name)
        if not template:
            return None
        return self.text(template, **self._evidence_values(name, args))

    def _evidence_values(self, name: str, args) -> dict[str, Any]:
        case, words = self.case, self.words
        if name == "age":
            return {"age": args[1].number}
        if name == "chart_months_back":
            return {"chart_date": long_date(case.chart_date)}
        if name == "months_since_last_dose":
            course = (case.lemtrada_courses or [])[args[1].number]
            return {
                "last_dose": long_date(last_dose(course.start_date, course.days)),
                "start": long_date(case.planned_start),
                "months": args[2].number,
            }
        if name == "condition":
            text = case.diagnosis.condition if case.diagnosis and case.diagnosis.condition else args[1].string
            return {"condition": words["conditions"].get(args[1].string, text.replace("_", " "))}
        if name == "active_infection":
            return {"infection": (case.active_infections or [])[args[1].number]}
        if name == "request_dose":
            return {"dose": case.request.dose_mg_per_day}
        if name == "request_days":
            return {"days": case.request.days}
        if name == "ms_course":
            return {"course": words["ms_course"].get(args[1].name, args[1].name.replace("_", " "))}
        if name == "dmt_trial":
            return {"drug": drug_name(args[2].name), "outcome": words["outcome"].get(args[3].name, args[3].name)}
        if name == "concurrent_dmt":
            return {"drug": drug_name(args[2].name)}
        if name == "no_entry":
            return {"drug": drug_name(args[1].name if args[1].type == SymbolType.Function else args[1].string)}
        return {}

    # --- what could lead to approval: the actionable corrections ----------------------------------
    def _fixes(self) -> list[list[str]]:
        fixes = []
        for changes in self.decision.corrections or []:
            if not all(c["actionable"] for c in changes):
                continue
            steps: list[str] = []
            for change in changes:
                step = self.criterion(change["id"], "fix") or self.criterion(change["id"], "needed") or change["change"]
                if step not in steps:
                    steps.append(step)
            if steps not in fixes:
                fixes.append(steps)
        return fixes

    # --- pend: exactly the documentation requested ---------------------------------------------------
    def _requests(self, ident: str) -> list[list[list[str]]]:
        """What would settle an undocumented criterion, as items to send; an item is a list of
        options (any one will do), an option a list of sentences. Every undocumented part of
        an "all of" is an item; the undocumented parts of an "any of" are the options of one
        item (its other parts are not met, so documenting them would not help)."""
        status = self.decision.outcome.status
        info = self.catalogue.info(ident)
        if status.get(ident) != "undocumented":
            return []
        if not info.children:
            return [[[self._needed(ident)]]]
        parts = [c for c in sorted(info.children, key=criterion_sort_key) if status.get(c) == "undocumented"]
        if info.kind == "any_of":
            return [[self._all_of(part) for part in parts]]
        return [item for part in parts for item in self._requests(part)]

    def _all_of(self, ident: str) -> list[str]:
        sentences: list[str] = []
        for item in self._requests(ident):
            sentences += item[0] if len(item) == 1 else [" Or: ".join(" ".join(option) for option in item)]
        return sentences

    def _needed(self, leaf: str) -> str:
        return self.criterion(leaf, "needed") or self.catalogue.info(leaf).needed or self.catalogue.info(leaf).title

    # --- approval and the prescriber's part ----------------------------------------------------------
    def _advisory_ids(self) -> list[tuple[str, str]]:
        return [(i, t) for i, t in self.catalogue.advisories if i in self.decision.outcome.advise]

    def _clinical(self, data: dict[str, Any]) -> dict[str, Any]:
        request = self.case.request
        return {
            "failed": data["failed"],
            "missing": data["missing"],
            "diagnosis_codes": list(request.diagnosis_codes or []),
            "requested": {"mg_per_day": request.dose_mg_per_day, "days": request.days},
            "hcpcs": (data["authorized"] or {}).get("hcpcs", []),
            "advisories": data["advisories"],
            "corrections": data.get("corrections") or [],
            "kb_version": data["kb_version"],
            "source": data["source"],
        }


def _correction_line(changes: list[dict[str, Any]]) -> str:
    """I4.a (actionable) + E4 (not actionable): one minimal correction, for the prescriber."""
    return " + ".join(
        f"{c['id']} {c['change']} ({'actionable' if c['actionable'] else 'not actionable'})" for c in changes
    )


def drug_name(canonical: str) -> str:
    """natalizumab (Tysabri): the generic name, then the brand names a member knows."""
    brands = ", ".join(b.capitalize() for b in DMT_ALIASES.get(canonical, ()))
    generic = canonical.replace("_", " ")
    return f"{generic} ({brands})" if brands else generic


def _us_date_words(text: str) -> str:
    """04/01/2026 (the guideline's own format) as April 1, 2026, which no reader misreads."""
    try:
        return long_date(datetime.strptime(text, "%m/%d/%Y").date())
    except ValueError:
        return text


def long_date(day: date | None) -> str:
    return f"{day:%B} {day.day}, {day.year}" if day else "(no date)"


def _wrap(text: str, width: int = 78, indent: str = "", first: str | None = None) -> str:
    return textwrap.fill(
        str(text), width=width, initial_indent=indent if first is None else first, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )
