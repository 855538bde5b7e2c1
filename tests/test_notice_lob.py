"""The line-of-business data (lemtrada_asp/notices/lob/*.yaml) and the language data:
every file loads, every value has a source, the numbers the issue names are the ones
stored, the default is what it says it is, and a broken file is reported by file and field.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from lemtrada_asp.notices import language, lob
from lemtrada_asp.notices.errors import NoticeDataError
from lemtrada_asp.notices.lob import ELEMENTS, Duration, Right

ALL = lob.load_all()
KINDS = ("deny", "pend", "approve")


def hours(d: Duration) -> int:
    return d.amount * {"calendar_days": 24, "hours": 1, "months": 24 * 31}[d.unit]


def test_every_line_of_business_has_a_file_and_the_default_is_separate():
    assert set(ALL) == {"default", "commercial", "erisa", "medicaid", "medicare_advantage"}
    assert lob.ids() == ["commercial", "erisa", "medicaid", "medicare_advantage"]
    assert lob.select(None).id == "default" and lob.select(None).is_default
    assert lob.select("medicaid").id == "medicaid"


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_value_has_a_source_that_says_how_far_it_was_checked(name):
    rules = ALL[name]
    sources = dict(rules.sources())
    # every time limit, right, list and text is backed by a source of its own
    for duration in rules.durations():
        assert duration.key and duration.source.cite and duration.source.says, duration.key
    for path in ("appeal.who_may_appeal", "appeal.how_to_ask", "fair_hearing", "continuation_of_benefits", "external_review"):
        assert path in sources, path
    for i, element in enumerate(rules.required_elements):
        assert f"required_elements[{i}]" in sources, element.id
    for path, source in sources.items():
        if source.checked in ("verified", "corroborated"):
            assert source.checked_against, path
        else:
            assert source.note, path


def test_medicare_advantage_uses_the_part_b_drug_time_limits():
    ma = ALL["medicare_advantage"]
    assert (ma.appeal.standard_decision.amount, ma.appeal.standard_decision.unit) == (7, "calendar_days")
    assert (ma.appeal.expedited_decision.amount, ma.appeal.expedited_decision.unit) == (72, "hours")
    assert ma.appeal.standard_decision.source.cite == "42 CFR 422.590(c)"
    assert (ma.initial_decision.standard.amount, ma.initial_decision.standard.unit) == (72, "hours")
    assert (ma.initial_decision.expedited.amount, ma.initial_decision.expedited.unit) == (24, "hours")
    assert (ma.appeal.filing_limit.amount, ma.appeal.filing_limit.counted_from) == (60, "date_of_notice")
    assert ma.appeal.formal_name == "reconsideration"
    # the review outside the plan needs no request, and there is no State fair hearing
    assert ma.external_review.available is True and ma.external_review.automatic
    assert ma.fair_hearing.available is False
    # a pend asks for records by the decision deadline: the same value, not a copy
    assert ma.pend.information_due.key == "initial_decision.standard"
    assert ma.pend.information_due == ma.initial_decision.standard


def test_medicaid_has_a_fair_hearing_and_continuation_of_benefits():
    md = ALL["medicaid"]
    assert (md.appeal.filing_limit.amount, md.appeal.standard_decision.amount, md.appeal.expedited_decision.amount) == (60, 30, 72)
    assert md.fair_hearing.available is True
    assert (md.fair_hearing.filing_limit.amount, md.fair_hearing.filing_limit.counted_from) == (120, "appeal_decision_notice")
    assert md.continuation_of_benefits.available is True
    assert md.continuation_of_benefits.filing_limit.amount == 10
    assert {"fair_hearing", "continuation_of_benefits"} <= {e.id for e in md.requires("deny")}
    assert md.external_review.available is False


def test_employer_and_commercial_plans_give_180_days_external_review_and_their_own_notice_content():
    for name in ("erisa", "commercial"):
        rules = ALL[name]
        assert (rules.appeal.filing_limit.amount, rules.appeal.filing_limit.counted_from) == (180, "receipt_of_notice")
        assert (rules.initial_decision.standard.amount, rules.pend.information_due.amount) == (15, 45)
        assert rules.external_review.available is True and not rules.external_review.automatic
        assert (rules.external_review.filing_limit.amount, rules.external_review.filing_limit.unit) == (4, "months")
        assert {"codes_on_request", "consumer_assistance", "missing_information"} <= {e.id for e in rules.requires("deny")}
    assert "civil_action" in {e.id for e in ALL["erisa"].requires("deny")}
    assert "civil_action" not in {e.id for e in ALL["commercial"].requires("deny")}


def test_the_default_is_never_late_and_never_promises_more_than_a_plan_must_give():
    default, others = ALL["default"], [r for n, r in ALL.items() if n != "default"]
    # the shortest window to appeal, counted from the earliest date (the date of the notice)
    assert default.appeal.filing_limit.counted_from == "date_of_notice"
    assert default.appeal.filing_limit.amount == min(r.appeal.filing_limit.amount for r in others)
    # the longest decision times
    for path in ("appeal.standard_decision", "appeal.expedited_decision", "initial_decision.standard", "initial_decision.expedited"):
        part, name = path.split(".")
        longest = max(hours(getattr(getattr(r, part), name)) for r in others)
        assert hours(getattr(getattr(default, part), name)) == longest, path
    # rights only some plans give are "depends", never a flat yes or no
    for right in ("fair_hearing", "continuation_of_benefits", "external_review"):
        assert getattr(default, right).available == "depends", right
    # and it asks for every element any plan type asks for
    for kind in KINDS:
        union = {e.id for r in others for e in r.requires(kind)}
        assert union <= {e.id for e in default.requires(kind)}, kind


def test_every_notice_element_is_required_by_some_line_of_business():
    used = {e.id for name, r in ALL.items() if name != "default" for e in r.required_elements}
    assert used == set(ELEMENTS)


def test_every_line_of_business_requires_language_help_and_nondiscrimination_on_every_notice():
    for name, rules in ALL.items():
        for kind in KINDS:
            ids = {e.id for e in rules.requires(kind)}
            assert {"language_assistance", "nondiscrimination", "decision", "plan_contact"} <= ids, (name, kind)


def test_a_deadline_is_counted_in_calendar_days_whole_days_of_hours_or_calendar_months():
    ma = ALL["medicare_advantage"]
    assert ma.appeal.filing_limit.due(date(2026, 5, 4)) == date(2026, 7, 3)
    assert ma.initial_decision.standard.due(date(2026, 5, 4)) == date(2026, 5, 7)
    assert ma.initial_decision.expedited.due(date(2026, 5, 4)) == date(2026, 5, 5)
    four_months = ALL["erisa"].external_review.filing_limit
    assert four_months.due(date(2026, 10, 31)) == date(2027, 2, 28)
    assert four_months.due(date(2026, 5, 4)) == date(2026, 9, 4)
    assert ma.appeal.filing_limit.words() == "60 days" and ma.appeal.expedited_decision.words() == "72 hours"
    assert ma.appeal.filing_limit.formal() == "60 calendar days (42 CFR 422.582(b))"


# --- a broken file is reported by file and field ------------------------------------------


@pytest.fixture
def folder(tmp_path):
    shutil.copytree(lob.lob_folder(), tmp_path / "lob")
    return tmp_path / "lob"


def edit(folder: Path, name: str, change) -> Path:
    path = folder / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def problems(folder: Path) -> str:
    lob.load_all.cache_clear()
    try:
        with pytest.raises(NoticeDataError) as caught:
            lob.load_all(str(folder))
        return str(caught.value)
    finally:
        lob.load_all.cache_clear()


def test_a_number_written_as_text_names_the_file_and_the_field(folder):
    path = edit(folder, "erisa", lambda d: d["appeal"]["filing_limit"].update(amount="180 days"))
    message = problems(folder)
    assert message.startswith(f"{path}: appeal.filing_limit.amount: ")
    assert "'180 days'" in message


def test_a_value_without_its_source_or_a_verified_value_without_what_was_read_is_refused(folder):
    edit(folder, "medicaid", lambda d: d["appeal"]["standard_decision"].pop("source"))
    assert "medicaid.yaml: appeal.standard_decision.source: required field missing" in problems(folder)
    shutil.copy(lob.lob_folder() / "medicaid.yaml", folder / "medicaid.yaml")
    edit(folder, "medicaid", lambda d: d["fair_hearing"]["decision"]["source"].pop("checked_against"))
    assert "medicaid.yaml: fair_hearing.decision.source: " in problems(folder)
    assert "checked_against" in problems(folder)


def test_a_typo_an_unknown_unit_or_an_unknown_element_is_refused(folder):
    edit(folder, "commercial", lambda d: d["appeal"].update(filing_limt=d["appeal"].pop("filing_limit")))
    message = problems(folder)
    assert "commercial.yaml: appeal.filing_limt: unknown field" in message
    assert "commercial.yaml: appeal.filing_limit: required field missing" in message
    shutil.copy(lob.lob_folder() / "commercial.yaml", folder / "commercial.yaml")
    edit(folder, "commercial", lambda d: d["appeal"]["filing_limit"].update(unit="weeks"))
    assert "appeal.filing_limit.unit: expected 'calendar_days', 'hours' or 'months', got 'weeks'" in problems(folder)
    shutil.copy(lob.lob_folder() / "commercial.yaml", folder / "commercial.yaml")
    edit(folder, "commercial", lambda d: d["required_elements"][0].update(id="appeals"))
    assert "commercial.yaml: required_elements[0].id: expected " in problems(folder)


def test_same_as_must_name_a_value_in_the_file_and_the_id_must_match_the_file(folder):
    edit(folder, "medicare_advantage", lambda d: d["pend"].update(information_due={"same_as": "initial_decision.standrd"}))
    assert "medicare_advantage.yaml: same_as: 'initial_decision.standrd' names no value in this file" in problems(folder)
    shutil.copy(lob.lob_folder() / "medicare_advantage.yaml", folder / "medicare_advantage.yaml")
    edit(folder, "erisa", lambda d: d.update(id="ERISA"))
    assert "erisa.yaml: id: expected 'erisa' (the file's name), got 'ERISA'" in problems(folder)


def test_invalid_yaml_names_its_line_and_a_folder_without_the_default_is_refused(folder):
    (folder / "erisa.yaml").write_text("id: erisa\nappeal: [unclosed\n")
    assert "erisa.yaml: not valid YAML at line 2 column 9" in problems(folder)  # where the bracket opens
    (folder / "erisa.yaml").unlink()
    (folder / "default.yaml").unlink()
    assert "no default.yaml" in problems(folder)


def test_an_unknown_line_of_business_names_the_field_and_the_values_expected():
    with pytest.raises(NoticeDataError) as caught:
        lob.select("medicare")
    assert str(caught.value) == (
        "coverage.line_of_business: expected one of commercial, erisa, medicaid, medicare_advantage, got 'medicare'"
    )
    with pytest.raises(NoticeDataError):
        lob.select("default")  # the default is what a case gets by not saying, not a value to write


def test_a_right_that_may_apply_says_on_what_and_one_a_member_asks_for_has_a_time_limit():
    with pytest.raises(ValueError, match="applies_when"):
        Right.model_validate({"available": "depends", "name": "x", "source": ALL["default"].fair_hearing.source.model_dump()})
    with pytest.raises(ValueError, match="filing_limit"):
        Right.model_validate({"available": True, "name": "x", "source": ALL["default"].fair_hearing.source.model_dump()})


# --- language access and nondiscrimination ---------------------------------------------------


def test_the_national_list_has_fifteen_languages_each_with_a_tagline_to_call_the_plan():
    taglines = language.taglines("1-800-555-0100", "711")
    assert len(taglines) == 15 and len({t.code for t in taglines}) == 15
    for tagline in taglines:
        assert "1-800-555-0100" in tagline.text and "{" not in tagline.text, tagline.code
    assert {t.code for t in taglines if t.dir == "rtl"} == {"ar", "fa"}
    assert taglines[0].code == "es" and taglines[0].text.startswith("ATENCIÓN: si habla español")
    assert "the national list" in language.list_source("TX")


def test_a_states_own_list_is_used_for_its_members(tmp_path):
    data = yaml.safe_load(language.language_file().read_text())
    codes = [t["code"] for t in data["national"]]
    data["states"] = {"TX": list(reversed(codes))}
    path = tmp_path / "language.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    assert [t.code for t in language.taglines("1", "2", "TX", str(path))] == list(reversed(codes))
    assert [t.code for t in language.taglines("1", "2", "CA", str(path))] == codes
    assert language.list_source("TX", str(path)) == "the plan's list for TX (language.yaml, states.TX)"
    data["states"] = {"TX": codes[:14] + ["xx"]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    language.load.cache_clear()
    with pytest.raises(NoticeDataError, match=r"language\.yaml: states\.TX: xx not in national"):
        language.load(str(path))


def test_the_nondiscrimination_notice_is_filled_from_the_plan_settings_and_never_leaves_a_blank():
    heading, paragraphs = language.nondiscrimination("Acme Health", "1-800-555-0100", "711", "Civil Rights Coordinator, PO Box 1")
    text = " ".join(paragraphs)
    assert heading == "We do not discriminate"
    assert text.startswith("At Acme Health, we follow federal civil rights laws.")
    for fact in ("race, color, national origin, age, disability or sex", "1-800-555-0100", "Civil Rights Coordinator, PO Box 1",
                 "Office for Civil Rights", "1-800-368-1019"):
        assert fact in text
    with pytest.raises(NoticeDataError, match=r"\{coordinator\}"):
        language.fill("Write to {coordinator}.", phone="1")


# --- the letter's deadlines, worked out from the data -------------------------------------------


def test_a_deadline_is_dated_only_when_the_letter_knows_the_day_it_counts_from():
    from lemtrada_asp.notices.context import notice_facts

    letter, received = date(2026, 5, 4), date(2026, 5, 1)
    ma = notice_facts(ALL["medicare_advantage"], letter, received)
    assert ma["appeal_filing"].words == "within 60 days of the date on this letter"
    assert ma["appeal_filing"].date == date(2026, 7, 3)
    assert ma["records_due"].words == "within 72 hours after we got the request"
    assert ma["records_due"].date == date(2026, 5, 4) and ma["records_due"].key == "initial_decision.standard"
    erisa = notice_facts(ALL["erisa"], letter, received)
    assert erisa["appeal_filing"].words == "within 180 days after you get this letter"
    assert erisa["appeal_filing"].date is None  # the day the member gets it is not known
    assert erisa["external_review"].filing.words == "within 4 months after you get our answer to your appeal"
    medicaid = notice_facts(ALL["medicaid"], letter, received)
    assert medicaid["fair_hearing"].filing.words == "within 120 days of the date on our answer to your appeal"
    assert medicaid["continuation"].filing.date == date(2026, 5, 14)


@pytest.mark.parametrize("name", sorted(ALL))
def test_the_reviewer_part_can_name_the_source_of_every_deadline(name):
    from lemtrada_asp.notices.context import notice_facts

    facts = notice_facts(ALL[name], date(2026, 5, 4), date(2026, 5, 1))
    listed = {key for key, _, _ in facts["sources"]}
    assert listed == {d.key for d in ALL[name].durations()}
    for key in ("appeal.filing_limit", "appeal.standard_decision", "appeal.expedited_decision",
                ALL[name].pend.information_due.key):
        assert key in listed, key
    assert facts["unverified"] == sorted(p for p, s in ALL[name].sources() if s.checked == "unverified")


def test_the_readme_tables_state_every_deadline_as_its_file_does():
    readme = (Path(__file__).resolve().parent.parent / "lemtrada_asp" / "notices" / "README.md").read_text(encoding="utf-8")  # the notices guide
    section = readme.split("## Notices: line of business", 1)[1].split("\n## ", 1)[0]
    for name, rules in ALL.items():
        table = section.split(f"(`lob/{name}.yaml`)", 1)[1].split("\n\n**", 1)[0]
        for d in rules.durations():
            row = f"| {d.amount} {d.unit.replace('_', ' ')}, from {d.counted_from.replace('_', ' ')} | {d.source.cite} | {d.source.checked} |"
            assert row in table, (name, d.key)
