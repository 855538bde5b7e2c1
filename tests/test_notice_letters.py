"""Every notice carries what its line of business requires, with the deadlines of its data file.

For each line of business (lob/*.yaml) a denial, a pend and an approval are drafted and
checked element by element (lemtrada_asp.notices.lob.ELEMENTS): the expected text of each
element is built here from the data file's values and the decision record, so a value
that does not reach the letter, or a letter that states another number, fails. Then:
every example case's HTML letter, and a PDF of each kind of letter, checked by the text extracted from it; identifiers and
placeholders; bad input and bad data as messages with an exit status.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import date

import jinja2
import pytest
import textstat
import yaml
from click.testing import CliRunner

from conftest import CASES_DIR, DELETE, INITIAL, KB_DIR, require_pdf, vary
from lemtrada_asp.cli import main
from lemtrada_asp.engine.loading import is_case_file
from lemtrada_asp.engine.policy import Policy
from lemtrada_asp.notices import language, lob, settings
from lemtrada_asp.notices.context import deadline_sources, notice_facts
from lemtrada_asp.notices.lob import ELEMENTS
from lemtrada_asp.render.letters import Signer, render_letter, wording

TODAY, RECEIVED = date(2026, 5, 4), date(2026, 5, 1)
WORDS = wording()
EXAMPLES = sorted(p for p in CASES_DIR.iterdir() if is_case_file(p))
PLAN = {
    "plan_name": "Acme Health Plan",
    "phone": "1-800-555-0100",
    "tty": "711",
    "appeal_address": "Acme Appeals, PO Box 100, Austin, TX 78701",
    "appeal_fax": "1-800-555-0199",
    "civil_rights_coordinator": "Civil Rights Coordinator, PO Box 200, Austin, TX 78701, civilrights@acme.example",
    "consumer_assistance": "Texas Department of Insurance, 1-800-252-3439",
    "reviewer_line": "1-800-555-0142",
    "authorization_valid_days": 90,
}
IDENTIFIED = {"member.id": "M-12345", "member.name": "Ana Diaz", "coverage.plan_id": "ACME-1"}


@pytest.fixture(scope="module")
def policy():
    return Policy.load(KB_DIR)


@pytest.fixture
def acme(tmp_path, monkeypatch):
    """The plan settings of a configured plan (ACME-1), instead of the shipped blanks."""
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({**{k: None for k in PLAN}, "tty": "711", "plans": {"ACME-1": PLAN}}))
    monkeypatch.setattr(settings, "plan_file", lambda: path)
    settings.load.cache_clear()
    yield PLAN
    settings.load.cache_clear()


def plain(letter: str) -> str:
    """The letter's words: markdown bold and escapes undone, white space collapsed."""
    return " ".join(re.sub(r"\\(.)", r"\1", letter.replace("**", "")).split())


def kinds_of_case(line_of_business: str | None) -> dict[str, dict]:
    """A denial (age 17, I2 not met, with the chart also missing: I0 undocumented), a pend
    for information (no chart, no birth date) and an approval, for one line of business."""
    cover = {"coverage.line_of_business": line_of_business} if line_of_business else {}
    base = vary(INITIAL, {**IDENTIFIED, **cover})
    return {
        "deny": vary(base, {"id": "N-DENY", "member.birth_date": "2009-01-01", "chart_date": DELETE}),
        "pend": vary(base, {"id": "N-PEND", "chart_date": DELETE, "member.birth_date": DELETE}),
        "approve": vary(base, {"id": "N-OK"}),
    }


def expected(element: str, rules: lob.LineOfBusiness, record, kind: str) -> list[str]:
    """What the letter must say for one element, from the data file, the plan and the record."""
    a = rules.appeal
    if element == "decision":
        return [{"deny": "We cannot approve Lemtrada for you", "pend": "We need more information to decide on Lemtrada",
                 "approve": "We approved Lemtrada for you"}[kind]]
    if element == "member_identification":
        return ["Member: Ana Diaz", "Member ID: M-12345", f"Request number: {record.case_id}", "Plan: Acme Health Plan (plan ACME-1)"]
    if element == "plan_contact":
        return [f"Call {PLAN['phone']}.", f"TTY {PLAN['tty']}"] + ([PLAN["appeal_address"], PLAN["appeal_fax"]] if kind == "deny" else [])
    if element == "specific_reasons":
        return [say(c.id, "title", record) for c in record.failed] + ["You were 17 on the day we got the request."]
    if element == "criteria_relied_on":
        return [f'section "{c.section}"' for c in record.failed] + [record.guideline[0]]
    if element == "free_copies":
        return ["free copy of the rules we used", "free copies of all the records we used to decide"]
    if element == "missing_information":
        return [say("I0", "needed", record)] + [f'This is for the rule "{say(c.id, "title", record)}".' for c in record.missing]
    if element == "information_due_date":
        due = rules.pend.information_due
        start = {"date_of_notice": TODAY, "request_received": RECEIVED}.get(due.counted_from)
        return [f"send them within {due.words()}"] + ([f"That is by {long(due.due(start))}."] if start else [])
    if element == "appeal_right":
        return ["Your right to appeal", "This is called an appeal."]
    if element == "appeal_filing_limit":
        return [f"You must ask within {a.filing_limit.words()}"]
    if element == "appeal_decision_time":
        return [f"We will answer within {a.standard_decision.words()} after we get your appeal."]
    if element == "expedited_appeal":
        return ["ask for a fast appeal", f"We will answer within {a.expedited_decision.words()} after we get your appeal."]
    if element == "who_may_appeal":
        return a.who_may_appeal.value
    if element == "next_level_review":
        rights = [r for r in (rules.external_review, rules.fair_hearing) if r.available]
        assert rights, rules.id
        return [r.name for r in rights] + [f"within {r.filing_limit.words()}" for r in rights if r.filing_limit]
    if element == "fair_hearing":
        r = rules.fair_hearing
        return [r.name] + ([f"within {r.filing_limit.words()}"] if r.filing_limit else [])
    if element == "continuation_of_benefits":
        r = rules.continuation_of_benefits
        return [r.applies_when] + ([f"You must ask within {r.filing_limit.words()}"] if r.filing_limit else [])
    if element == "civil_action":
        return ["take us to court", "section 502(a)"]
    if element == "consumer_assistance":
        return [PLAN["consumer_assistance"]]
    if element == "codes_on_request":
        return ["the codes for your illness and your treatment on this request, and what they mean"]
    if element == "authorized_service":
        return ["Authorization number: PA-777", "Valid from: May 1, 2026", "Valid until: July 29, 2026",
                "12 mg a day for 5 days in a row, 60 mg in all"]
    if element == "language_assistance":
        return [language.english_tagline(PLAN["phone"], PLAN["tty"])] + [
            t.text for t in language.taglines(PLAN["phone"], PLAN["tty"], "TX")]
    if element == "nondiscrimination":
        heading, paragraphs = language.nondiscrimination(PLAN["plan_name"], PLAN["phone"], PLAN["tty"], PLAN["civil_rights_coordinator"])
        return [heading] + paragraphs
    raise AssertionError(f"no check for element {element!r}: add one here")


def say(ident: str, field: str, record) -> str:
    """A member wording text with the parameters the record was decided under."""
    return jinja2.Template(WORDS["criteria"][ident][field]).render(p=record.params).strip()


def long(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


@pytest.mark.parametrize("name", sorted(lob.load_all()))
def test_each_notice_carries_every_element_its_line_of_business_requires(name, policy, acme):
    rules = lob.select(None if name == "default" else name)
    signer = Signer("Dana Lee", "MD, neurology", "PA-777")
    for kind, case in kinds_of_case(None if name == "default" else name).items():
        record = policy.decide(case, corrections=True, details=True)
        assert record.decision == kind, (name, kind)
        text = plain(render_letter(record, "markdown", TODAY, signer))
        required = [e.id for e in rules.requires(kind)]
        assert required, (name, kind)
        for element in required:
            for phrase in expected(element, rules, record, kind):
                assert plain(phrase) in text, (name, kind, element, phrase)


def test_medicare_advantage_letters_state_the_part_b_drug_times_and_no_other(policy, acme):
    record = policy.decide(kinds_of_case("medicare_advantage")["deny"], corrections=True, details=True)
    text = plain(render_letter(record, "markdown", TODAY))
    for sentence in (
        "You must ask within 60 days of the date on this letter. That is by July 3, 2026.",
        "Its formal name is a reconsideration.",
        "We will answer within 7 days after we get your appeal.",
        "We will answer within 72 hours after we get your appeal.",
        "If we still say no, in full or in part, after your appeal, we will send your case for a review by the "
        "Independent Review Entity. You do not have to ask for it.",
    ):
        assert sentence in text, sentence
    assert "within 30 days" not in text and "fair hearing" not in text and "take us to court" not in text
    assert "appeal.standard_decision: 7 calendar days (42 CFR 422.590(c)) [unverified]" in text  # the reviewer's part
    assert "form CMS-10003-NDMCP, the Notice of Denial of Medical Coverage (Integrated Denial Notice)" in text


def test_medicaid_letters_state_the_fair_hearing_and_continuation_of_benefits(policy, acme):
    record = policy.decide(kinds_of_case("medicaid")["deny"], corrections=True, details=True)
    text = plain(render_letter(record, "markdown", TODAY))
    assert ("If we still say no after your appeal, or we do not answer in time, you can ask for a State fair hearing. "
            "You must ask within 120 days of the date on our answer to your appeal.") in text
    assert ("you can ask us to keep covering it while we decide your appeal. You must ask within 10 days of the date "
            "on this letter. That is by May 14, 2026. If you lose the appeal, you may have to pay for that care.") in text
    assert "external review" not in text and "take us to court" not in text


def test_an_edited_deadline_changes_the_letter_and_leaves_no_trace_of_the_old_one(policy, acme, tmp_path, monkeypatch):
    folder = tmp_path / "lob"
    shutil.copytree(lob.lob_folder(), folder)
    path = folder / "medicare_advantage.yaml"
    data = yaml.safe_load(path.read_text())
    data["appeal"]["standard_decision"]["amount"] = 9
    data["appeal"]["filing_limit"]["amount"] = 65
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    monkeypatch.setattr(lob, "lob_folder", lambda: folder)
    lob.load_all.cache_clear()
    try:
        record = policy.decide(kinds_of_case("medicare_advantage")["deny"], corrections=True, details=True)
        text = plain(render_letter(record, "markdown", TODAY))
    finally:
        lob.load_all.cache_clear()
    assert "We will answer within 9 days after we get your appeal." in text and "Waiting 9 days" in text
    assert "You must ask within 65 days of the date on this letter. That is by July 8, 2026." in text
    assert "7 days" not in text and "60 days" not in text


# --- identifiers and placeholders ------------------------------------------------------------


def test_absent_identifiers_and_settings_are_plainly_marked_never_invented(policy):
    record = policy.decide(vary(INITIAL, {"id": "N-BLANK"}), corrections=True, details=True)
    text = plain(render_letter(record, "markdown", TODAY))
    for label in ("member name", "member ID", "plan name", "plan phone", "authorization number", "approval validity (days)"):
        assert f"[missing: {label}]" in text, label
    assert "Reviewer name: ______" in text and "Credentials: ______" in text
    html = render_letter(record, "html", TODAY)
    assert '<mark class="missing">[missing: member ID]</mark>' in html
    assert '<mark class="missing">[missing: plan name]</mark>' in html  # inside a sentence too


def test_a_plan_id_the_settings_do_not_list_is_shown_and_flagged_to_the_reviewer(policy, acme):
    record = policy.decide(vary(INITIAL, {"id": "N-OTHER", "coverage.plan_id": "OTHER-9"}), corrections=True, details=True)
    text = plain(render_letter(record, "markdown", TODAY))
    assert "Plan: [missing: plan name] (plan OTHER-9)" in text
    assert "The request names plan OTHER-9, which the plan settings (notices/plan.yaml) do not list" in text


def test_the_reviewer_part_names_the_plan_type_and_warns_when_it_is_the_default(policy):
    record = policy.decide(vary(INITIAL, {"id": "N-DEF"}), corrections=True, details=True)
    text = plain(render_letter(record, "markdown", TODAY))
    assert "Plan type: Plan type not stated (lob/default.yaml)." in text
    assert "Confirm the plan type before sending." in text
    for key, formal, checked in deadline_sources(lob.select(None)):
        assert plain(f"{key}: {formal} [{checked}]") in text


# --- reading level of the new content ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(lob.load_all()))
def test_the_member_part_of_a_denial_reads_at_or_below_grade_8_for_every_line_of_business(name, policy, acme):
    from lemtrada_asp.render.letters import member_text

    record = policy.decide(kinds_of_case(None if name == "default" else name)["deny"], corrections=True, details=True)
    lines = [line.strip() for line in member_text(record, TODAY).splitlines() if line.strip()]
    text = " ".join(line if line[-1] in ".!?:" else line + "." for line in lines)
    assert "You must ask within" in text  # the appeal rights are in what is measured
    assert textstat.flesch_kincaid_grade(text) <= 8.0


def test_the_english_language_help_and_nondiscrimination_read_at_or_below_grade_8():
    heading, paragraphs = language.nondiscrimination("Acme Health Plan", "1-800-555-0100", "711", "our coordinator")
    text = " ".join([language.english_tagline("1-800-555-0100", "711"), heading + "."] + paragraphs)
    assert textstat.flesch_kincaid_grade(text) <= 8.0


# --- the command: PDF for every example, bad input and bad data ---------------------------------------


def required_texts(record, n: dict) -> list[str]:
    """What every letter of this record's kind must say, as it is worded for this record."""
    kind = record.decision
    musts = [{"deny": "We cannot approve Lemtrada for you", "approve": "We approved Lemtrada for you"}.get(kind, "Lemtrada"),
             "DRAFT - NOT YET SIGNED", "[missing: member ID]", f"Request number: {record.case_id}", "May 4, 2026",
             language.english_tagline("[missing: plan phone]", "711"), "We do not discriminate", "Reviewer sign-off"]
    musts += [t.text for t in language.taglines("[missing: plan phone]", "711") if t.dir == "ltr"]
    if kind == "deny":
        musts += ["Your right to appeal", f"You must ask {n['appeal_filing'].words}.",
                  f"We will answer {n['appeal_standard'].words}.", f"We will answer {n['appeal_expedited'].words}.",
                  "free copy of the rules we used"]
        musts += [f'section "{c.section}"' for c in record.failed]
    if kind == "approve":
        granted = record.to_json()["authorized"]
        musts += ["Authorization number: [missing: authorization number]",
                  f"One course of Lemtrada: {granted['mg_per_day']} mg a day for {granted['days']} days in a row. "
                  f"That is {granted['mg']} mg in all."]
    if kind == "pend" and record.pend_reason == "information":
        musts += [f"send them {n['records_due'].words}. That is by {long(n['records_due'].date)}."]
    return musts


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def html_text(page: str) -> str:
    """The words of an HTML letter as a reader sees them: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(style|script)\b.*?</\1>", " ", page)))


@pytest.fixture(scope="module")
def examples(policy):
    """Every example decided once, as the letter command decides it (with corrections and the tree)."""
    return {path.name: policy.decide(path, corrections=True, details=True) for path in EXAMPLES}


def test_every_example_case_has_an_html_letter_that_carries_every_required_element(examples):
    # The HTML letter is what the PDF is made from; every example's is checked here,
    # and one PDF of each kind of letter below shows the conversion keeps the text.
    n = notice_facts(lob.select(None), TODAY, RECEIVED)  # the examples do not say their line of business
    for name, record in examples.items():
        flat = squash(html_text(render_letter(record, "html", TODAY)))
        for must in required_texts(record, n):
            assert squash(must) in flat, (name, must)
        for tagline in (t for t in language.taglines("[missing: plan phone]", "711") if t.dir == "rtl"):
            assert squash(tagline.text) in flat, (name, tagline.code)


def letter_kind(record) -> tuple:
    """What changes a letter's template and text: the decision, its reason, the review, and
    whether the evidence quoted in it goes beyond ASCII (other scripts, other fonts)."""
    quoted = [e.text for c in (*record.failed, *record.missing) for r in c.reasons for e in r.because]
    return record.decision, record.pend_reason, record.review_type, any(not t.isascii() for t in quoted)


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory, examples):
    """The PDF of the first example of each kind of letter (letter_kind), by the letter command."""
    pypdf = require_pdf()
    firsts: dict[tuple, str] = {}
    for name, record in examples.items():
        firsts.setdefault(letter_kind(record), name)
    folder = tmp_path_factory.mktemp("pdf")
    texts = {}
    for name in firsts.values():
        out = folder / f"{name}.pdf"
        result = CliRunner().invoke(main, ["letter", str(CASES_DIR / name), "--format", "pdf", "--out", str(out), "--date", "2026-05-04"])
        assert result.exit_code == 0, (name, result.output)
        reader = pypdf.PdfReader(out)
        assert reader.trailer["/Root"]["/MarkInfo"]["/Marked"].value is True, name
        texts[name] = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return texts


@pytest.mark.slow
def test_a_pdf_of_each_kind_of_letter_carries_every_required_element_in_its_text(pdfs, examples):
    n = notice_facts(lob.select(None), TODAY, RECEIVED)
    kinds = {letter_kind(r) for r in examples.values()}
    assert len(pdfs) == len(kinds) and {r.decision for r in examples.values()} == {"approve", "deny", "pend"}
    for name, text in pdfs.items():
        record = examples[name]
        flat = squash(text)
        # A PDF keeps right-to-left text in visual order, its left-to-right runs (the phone
        # number) placed where they show: check that tagline word by word.
        for tagline in (t for t in language.taglines("[missing: plan phone]", "711") if t.dir == "rtl"):
            for word in re.findall(r"\w+", tagline.text):
                assert word in text, (name, tagline.code, word)
        for must in required_texts(record, n):
            assert squash(must) in flat, (name, must)


def test_pdf_goes_to_standard_output_when_no_file_is_given(tmp_path):
    require_pdf()
    path = tmp_path / "c.json"
    path.write_text(json.dumps(INITIAL))
    result = CliRunner().invoke(main, ["letter", str(path), "--format", "pdf"])
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"%PDF-")


def test_an_unknown_line_of_business_in_a_case_is_an_input_error_naming_the_field(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(vary(INITIAL, {"coverage.line_of_business": "medicare"})))
    result = CliRunner().invoke(main, ["letter", str(path)])
    assert result.exit_code == 2
    assert f"{path}: coverage.line_of_business: Input should be 'commercial', 'erisa', 'medicaid' or 'medicare_advantage'" in result.output
    assert "Traceback" not in result.output


def test_broken_notice_data_is_a_message_naming_file_and_field_with_exit_status_3(tmp_path, monkeypatch):
    folder = tmp_path / "lob"
    shutil.copytree(lob.lob_folder(), folder)
    text = (folder / "default.yaml").read_text().replace("amount: 60", "amount: sixty", 1)
    (folder / "default.yaml").write_text(text)
    monkeypatch.setattr(lob, "lob_folder", lambda: folder)
    lob.load_all.cache_clear()
    path = tmp_path / "c.json"
    path.write_text(json.dumps(INITIAL))
    try:
        result = CliRunner().invoke(main, ["letter", str(path)])
    finally:
        lob.load_all.cache_clear()
    assert result.exit_code == 3
    assert f"{folder / 'default.yaml'}: appeal.filing_limit.amount: " in result.output and "'sixty'" in result.output
    assert "Traceback" not in result.output


def test_the_case_model_accepts_exactly_the_lines_of_business_there_are_files_for():
    from lemtrada_asp.case.model import LINES_OF_BUSINESS

    assert list(LINES_OF_BUSINESS) == lob.ids()
    assert set(ELEMENTS)  # the vocabulary the checks above cover
