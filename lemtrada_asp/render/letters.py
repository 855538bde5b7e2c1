"""The notice the plan sends about a request, drafted for a clinical reviewer to sign.

A medical-necessity denial is a clinician's decision, so every letter is a DRAFT with
a sign-off block. Its content follows what utilization-management notices must carry
(NCQA UM 7; 42 CFR 422.568(e), 438.404): each criterion not met and exclusion applied,
by name and policy source; the reason in terms of the member's own facts; what could
lead to approval; the free copy of the criteria; appeal rights, expedited included.

What is said comes from the decision record (its reasons, evidence, corrections and
the KB's parameters it was decided under); nothing is recomputed from the case. The
rules of appeal (deadlines, fair hearing, external review, what a notice must carry)
come from the member's line of business (lemtrada_asp/notices/lob/*.yaml, chosen by
coverage.line_of_business), the plan's name, phone and addresses from the plan settings
(notices/plan.yaml), language help and nondiscrimination from notices/language.yaml;
an identifier nobody gave prints as "[missing: ...]", never as an invented value.
How it is said to members comes from templates/member_wording.yaml; the layout is the
Jinja templates in templates/. This module only gathers the facts and picks words.
One body template (letter.j2) serves every format: it calls layout macros from
templates/format/<format>.j2, so the three formats cannot say different things; the
PDF is the HTML letter, converted (notices/pdf.py).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
import yaml
from markupsafe import Markup

from ..case.dates import add_months
from ..case.model import DMT_ALIASES
from ..engine.catalogue import at_least
from ..engine.record import CriterionResult, Decision, Evidence, Node
from ..notices import language, lob
from ..notices import settings as plan_settings
from ..notices.context import notice_facts
from ..notices.settings import Missing
from .markup import markdown_escape, plain_escape

FORMATS = ("markdown", "html", "text")
_FORMAT_FILES = {"markdown": "format/markdown.j2", "html": "format/html.j2", "text": "format/text.j2"}


@lru_cache(maxsize=None)
def _environment(output_format: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lemtrada_asp.render", "templates"),
        autoescape=output_format == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not a blank in a letter
        extensions=["jinja2.ext.do"],
    )
    if output_format == "markdown":
        esc = lambda value: markdown_escape(str(value))  # noqa: E731
    elif output_format == "text":  # no markup at all: a Missing value prints as its plain "[missing: ...]"
        esc = lambda value: plain_escape(str(value))  # noqa: E731
    else:  # html: autoescape does it; a Missing value becomes its <mark> (Markup, so `~` keeps it)
        esc = lambda value: Markup(value.__html__()) if hasattr(value, "__html__") else str(value)  # noqa: E731
    env.filters["esc"] = esc
    env.filters["long_date"] = long_date
    env.filters["source_line"] = lambda s: f"{s[0]}: {s[1]} [{s[2]}]"
    env.filters["wrap"] = _wrap
    env.filters["sentence_item"] = lambda option: {"text": " ".join(esc(s) for s in option)}
    env.filters["correction_line"] = _correction_line
    env.filters["hcpcs_line"] = lambda code: f"HCPCS {code['code']}: {code['units']} units."
    return env


@lru_cache(maxsize=None)
def _data(name: str) -> dict[str, Any]:
    return yaml.safe_load((resources.files("lemtrada_asp.render") / "templates" / name).read_text(encoding="utf-8"))


def wording() -> dict[str, Any]:
    """The member-facing wording (templates/member_wording.yaml)."""
    return _data("member_wording.yaml")


@dataclass(frozen=True)
class Signer:
    """What the CLI (or the review desk) knows of this letter beyond the decision: who reviews
    it, and the authorisation number the plan's system gave an approval. Absent: a blank to fill in."""

    reviewer_name: str | None = None
    reviewer_credentials: str | None = None
    authorization_number: str | None = None
    plan_file: str | None = None  # the plan settings (--plan); None: $LEMTRADA_PLAN, else the package's
    # Set when a reviewer signed the decision (the review desk): the letter is then no
    # draft; it says a clinician decided, who, when, why, and what the program had
    # recommended when the reviewer changed it.
    signed_at: str | None = None
    reason: str | None = None
    recommended: str | None = None


def render_letter(
    decision: Decision, output_format: str = "markdown", today: date | None = None, signer: Signer | None = None
) -> str:
    """The whole notice: member part, prescriber part, reviewer sign-off, then language
    help and the notice of nondiscrimination."""
    return _render(decision, output_format, today, part="all", signer=signer)


def render_pdf(decision: Decision, today: date | None = None, signer: Signer | None = None) -> bytes:
    """The notice as a tagged PDF/UA-1: the HTML letter, converted (needs the [pdf] extra)."""
    from ..notices.pdf import html_to_pdf

    return html_to_pdf(render_letter(decision, "html", today, signer))


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


def _render(decision: Decision, output_format: str, today: date | None, part: str, signer: Signer | None = None) -> str:
    if output_format not in FORMATS:
        raise ValueError(f"unknown letter format {output_format!r}; expected one of {', '.join(FORMATS)}")
    env = _environment(output_format)
    context = LetterFacts(decision, env).context(today or date.today(), signer or Signer())
    context.update(part=part, fmt=_FORMAT_FILES[output_format])
    text = env.get_template("letter.j2").render(context)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"  # the layout's blank lines, at most one in a row


class LetterFacts:
    """What one letter says, gathered from a decision, in the member's words where they read it."""

    def __init__(self, decision: Decision, env: jinja2.Environment):
        if decision.tree is None:
            raise ValueError("a letter needs a decision made with details (the whole evaluated tree)")
        self.decision = decision
        self.case = decision.case
        self.env = env
        self.words = wording()
        self.params = decision.params

    # --- the context of letter.j2 -----------------------------------------------------
    def context(self, today: date, signer: Signer) -> dict[str, Any]:
        d = self.decision
        data = d.to_json()
        name, revised = d.guideline
        case = self.case
        coverage, member = case.coverage, case.member
        rules = lob.select(coverage.line_of_business if coverage else None)
        plan = plan_settings.for_plan(coverage.plan_id if coverage else None, signer.plan_file)
        phone, tty = str(plan.phone), str(plan.tty)
        state = member.state if member else None
        return {
            "rules": notice_facts(rules, today, case.request.date),
            "plan": plan,
            "member": {
                "name": (member.name if member and member.name else Missing("member name")),
                "id": (member.id if member and member.id else Missing("member ID")),
            },
            "plan_id": coverage.plan_id if coverage and coverage.plan_id else None,
            "reviewer": signer,
            "authorization": self._authorization(data["authorized"], plan, signer),
            "language": {
                "english": language.english_tagline(phone, tty),
                "taglines": language.taglines(phone, tty, state),
                "nondiscrimination": language.nondiscrimination(
                    str(plan.plan_name), phone, tty, str(plan.civil_rights_coordinator)
                ),
                "source": language.list_source(state),
            },
            "kind": d.decision,
            "pend_reason": d.pend_reason,
            "case_id": d.case_id,
            "today": long_date(today),
            "received": long_date(d.case.request.date),
            "course": d.course,
            "review_type": d.review_type,
            "guideline": {"name": name, "revised": revised, "revised_long": _us_date_words(revised)},
            "reasons": [self._reason(c) for c in d.failed],
            "requests": [
                {"options": item, "settles": self._settles(c.id)}
                for c in d.missing for item in self._unrecognised(c.id) + self._requests(c.id)
            ],
            "fixes": self._fixes(),
            "partly_fixable": any(c.actionable for changes in d.corrections or () for c in changes),
            "later": self._later(),
            "lasting": any(not self._passes_with_time(c) for c in d.failed),
            "approved": data["authorized"],
            "member_advisories": [self.text(self.words["advisories"].get(a.id, a.text)) for a in d.advisories],
            "clinical": self._clinical(data),
            "p": self.params,
        }

    def text(self, template: str, **values: Any) -> str:
        """One wording text, filled in with the KB's parameters and the facts given."""
        return self.env.from_string(template).render(p=self.params, **values).strip()

    def criterion(self, ident: str, field: str) -> str | None:
        entry = self.words["criteria"].get(ident) or {}
        return self.text(entry[field]) if entry.get(field) else None

    # --- denial: each failed criterion, its rule, the member's facts, its source ----------------
    def _reason(self, result: CriterionResult) -> dict[str, Any]:
        found: list[str] = []
        for reason in result.reasons:  # the minimal failing branch, depth first: the leaves carry the facts
            for evidence in reason.because:
                sentence = self._found(evidence)
                if sentence and sentence not in found:
                    found.append(sentence)
        return {
            "id": result.id,
            "title": self.criterion(result.id, "title") or result.title,
            "rule": self.criterion(result.id, "rule") or result.title,
            "found": found,
            "section": result.section,
            "exclusion": result.kind == "exclusion",
        }

    def _found(self, evidence: Evidence) -> str | None:
        """A case fact in the member's words (templates/member_wording.yaml, evidence)."""
        template = self.words["evidence"].get(evidence.kind)
        if isinstance(template, dict):  # absent / none_listed: one text per field
            template = template.get(evidence.value("field"))
        if not template:
            return None
        return self.text(template, **self._evidence_values(evidence))

    def _evidence_values(self, evidence: Evidence) -> dict[str, Any]:
        words, v = self.words, evidence.value
        kind = evidence.kind
        if kind == "chart_months_back":
            return {"chart_date": long_date(v("chart_date"))}
        if kind == "months_since_last_dose":
            return {"last_dose": long_date(v("last_dose")), "start": long_date(v("start")), "months": v("months")}
        if kind == "running_course":
            return {"started": long_date(v("started")), "last_dose": long_date(v("last_dose"))}
        if kind == "condition":
            return {"condition": words["conditions"].get(v("term"), v("condition").replace("_", " "))}
        if kind == "ms_course":
            return {"course": words["ms_course"].get(v("course"), v("course").replace("_", " "))}
        if kind == "dmt_trial":
            return {"drug": drug_name(v("drug")), "outcome": words["outcome"].get(v("outcome"), v("outcome"))}
        if kind in ("concurrent_dmt", "no_entry"):
            return {"drug": drug_name(v("drug"))}
        return dict(evidence.values)

    # --- what could lead to approval: the actionable corrections ----------------------------------
    def _fixes(self) -> list[list[str]]:
        fixes = []
        for changes in self.decision.corrections or []:
            if not all(c.actionable for c in changes) or any(self._only_time(c.id) for c in changes):
                continue
            steps: list[str] = []
            for change in changes:
                step = self.criterion(change.id, "fix") or self.criterion(change.id, "needed") or change.change
                if step not in steps:
                    steps.append(step)
            if steps not in fixes:
                fixes.append(steps)
        return fixes

    # --- reasons that pass with time: when a new request can succeed ------------------------------------
    def _failing_facts(self, result: CriterionResult) -> list[Evidence]:
        return [e for reason in result.reasons for e in reason.because]

    def _only_time(self, ident: str) -> bool:
        """Whether only time can change leaf ident, no change to this request (a course still
        running fails C3 whatever start is planned): its fix is then no step to offer."""
        node = self.decision.node(ident)
        kinds = {fact.kind for fact in node.facts} if node is not None else set()
        return bool(kinds) and kinds <= set(self.words["only_time"])

    def _passes_with_time(self, result: CriterionResult) -> bool:
        """A failed criterion whose every fact behind it passes with time (an infection, a
        course too recent or still running): a new request can succeed later."""
        facts = self._failing_facts(result)
        return bool(facts) and all(e.kind in self.words["later"] for e in facts)

    def _later(self) -> list[str]:
        """When a new request can succeed, one sentence per fact that passes with time,
        built from the record's evidence and the KB's parameters (templates/member_wording.yaml,
        later): "once the infection has cleared up", "from <date>"."""
        said: list[str] = []
        for result in self.decision.failed:
            for evidence in self._failing_facts(result):
                template = self.words["later"].get(evidence.kind)
                if not template:
                    continue
                values: dict[str, Any] = {}
                if evidence.value("last_dose") is not None:
                    last = evidence.value("last_dose")
                    values = {"last_dose": long_date(last),
                              "date": long_date(add_months(last, self.params["min_months_since_last_dose"]))}
                sentence = self.text(template, **values)
                if sentence not in said:
                    said.append(sentence)
        return said

    # --- pend: exactly the documentation requested ---------------------------------------------------
    def _requests(self, ident: str) -> list[list[list[str]]]:
        """What would settle an undocumented criterion, as items to send; an item is a list of
        options (any one will do), an option a list of sentences. Every undocumented part of
        an "all of" is an item; the undocumented parts of an "any of" are the options of one
        item (its other parts are not met, so documenting them would not help)."""
        node = self.decision.node(ident)
        if node is None or node.status != "undocumented":
            return []
        if not node.children:
            return [[[self._needed(node)]]]
        parts = [c for c in node.children if c.status == "undocumented"]
        if node.kind.startswith("at_least("):
            # k more parts must be met: when every undocumented part is needed, each is an item;
            # else they are the options of one item, which is exact for k = 1 (for 1 < k < parts
            # the letter still says "one of these": a known limit of its item/option form)
            more = at_least(node.kind) - sum(c.status == "met" for c in node.children)
            if more >= len(parts):
                return [item for part in parts for item in self._requests(part.id)]
            return [[self._all_of(part.id) for part in parts]]
        if node.kind == "any_of":
            return [[self._all_of(part.id) for part in parts]]
        return [item for part in parts for item in self._requests(part.id)]

    def _all_of(self, ident: str) -> list[str]:
        sentences: list[str] = []
        for item in self._requests(ident):
            sentences += item[0] if len(item) == 1 else [" Or: ".join(" ".join(option) for option in item)]
        return sentences

    def _needed(self, leaf: Node) -> str:
        return self.criterion(leaf.id, "needed") or leaf.needed or leaf.title

    def _unrecognised(self, ident: str) -> list[list[list[str]]]:
        """Text of the case the KB did not recognise, said back once before what is asked for."""
        said: list[str] = []

        def walk(node: Node | None) -> None:
            if node is None:
                return
            for fact in node.facts:
                sentence = self._found(fact) if fact.kind == "unrecognised" else None
                if sentence and sentence not in said:
                    said.append(sentence)
            for child in node.children:
                walk(child)

        walk(self.decision.node(ident))
        return [[[sentence]] for sentence in said]

    def _settles(self, ident: str) -> str:
        """The rule a requested record is for, in the member's words (what it would settle)."""
        return self.criterion(ident, "title") or self.decision.node(ident).title

    # --- approval and the prescriber's part ----------------------------------------------------------
    def _authorization(self, approved: dict[str, Any] | None, plan: Any, signer: Signer) -> dict[str, Any] | None:
        """An approval's number and validity: the number from the plan's system (the CLI),
        the period from the planned first infusion day and the plan's validity setting."""
        if not approved:
            return None
        start = self.case.planned_start
        days = plan.authorization_valid_days
        return {
            "number": signer.authorization_number or Missing("authorization number"),
            "valid_from": long_date(start),
            "valid_until": long_date(start + timedelta(days=days - 1)) if isinstance(days, int) else days,
        }

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
