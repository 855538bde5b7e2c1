"""What a newcomer met on a fresh machine, each friction now a test.

Plan settings from a file the plan keeps; ./cases found in a checkout; the KB that
decided named in every text output; check-kb quiet and naming its overlays; progress
with a total; messages without API names; a PDF never written to a terminal; YAML
errors at the line to fix; a late SIGTERM that loses nothing; PDFs set in the fonts
the package ships, the same on every machine.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lemtrada_asp.cli import main

from conftest import CASES_DIR, INITIAL, REPO, require_pdf, vary

EXAMPLE_PLAN = REPO / "lemtrada_asp" / "notices" / "plan.example.yaml"
DENIED = CASES_DIR / "a-first-course-requested-for-three-days-is-denied-for-dose.yaml"


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def write_case(tmp_path: Path, case: dict, name: str = "case.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(case))
    return path


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("LEMTRADA_PLAN", None)
    return env


# --- plan settings where the plan keeps them -----------------------------------------


def test_a_letter_takes_the_plans_name_and_phone_from_the_plan_option():
    result = run("letter", str(DENIED), "--date", "2026-05-04", "--plan", str(EXAMPLE_PLAN))
    assert result.exit_code == 0, result.output
    assert "Example Health Plan" in result.output and "1-800-555-0100" in result.output
    assert "[missing: plan name]" not in result.output and "[missing: plan phone]" not in result.output


def test_a_letter_takes_the_plan_file_from_the_environment_when_no_option_names_one():
    result = run("letter", str(DENIED), "--date", "2026-05-04", env={"LEMTRADA_PLAN": str(EXAMPLE_PLAN)})
    assert result.exit_code == 0, result.output
    assert "Example Health Plan" in result.output


def test_without_a_plan_file_the_plans_facts_print_as_placeholders():
    result = run("letter", str(DENIED), "--date", "2026-05-04")
    assert result.exit_code == 0
    assert "missing: plan name" in result.output  # markdown escapes the brackets


def test_a_plan_file_that_does_not_exist_is_named_with_exit_status_3(tmp_path):
    result = run("letter", str(DENIED), "--plan", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 3
    assert "nope.yaml: cannot read" in result.output and "Traceback" not in result.output


def test_a_plan_file_with_a_yaml_error_on_line_5_is_reported_at_line_5(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("plan_name: Acme\nphone: 1-800-555-0100\ntty: '711'\nappeal_fax: '1'\nreviewer_line: [unclosed\n")
    result = run("letter", str(DENIED), "--plan", str(plan))
    assert result.exit_code == 3
    assert "plan.yaml: not valid YAML at line 5 column 16" in result.output


def test_a_case_with_a_yaml_error_on_line_5_is_reported_at_line_5(tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text("id: Y-1\nrequest: {date: 2026-05-01, dose_mg_per_day: 12, days: 5}\nmember: {birth_date: 1990-04-02}\n"
                    "prescriber: {specialty: neurology}\nchart_date: [2026-04-20\ndiagnosis: {condition: ms}\n")
    result = run("decide", str(case))
    assert result.exit_code == 2
    assert "malformed YAML at line 5 column 13" in result.output
    assert "noticed at line 6" in result.output  # where the parser found out, said second


# --- the checkout's cases and KB --------------------------------------------------


@pytest.fixture
def installed_elsewhere(monkeypatch, tmp_path):
    """The package as a non-editable install sees it: no cases/ beside it; the working
    directory a checkout holding two example cases."""
    import lemtrada_asp.analysis.suite as suite_module

    monkeypatch.setattr(suite_module, "__file__", str(tmp_path / "site-packages" / "lemtrada_asp" / "analysis" / "suite.py"))
    checkout = tmp_path / "checkout"
    (checkout / "cases").mkdir(parents=True)
    for name in ("active-spms-is-approved", "a-first-course-requested-for-three-days-is-denied-for-dose"):
        for suffix in (".yaml", ".expected.yaml"):
            shutil.copy(CASES_DIR / f"{name}{suffix}", checkout / "cases")
    monkeypatch.chdir(checkout)
    return checkout


def test_test_finds_the_cases_of_the_checkout_it_runs_in_after_a_non_editable_install(installed_elsewhere):
    result = run("test")
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("2 cases: 2 passed, 0 failed")


def test_criteria_matrix_finds_the_cases_of_the_checkout_it_runs_in(installed_elsewhere):
    result = run("criteria", "--matrix", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "active-spms-is-approved" in result.output


def test_every_text_output_names_the_knowledge_base_that_decided_by_path_and_version(tmp_path):
    from lemtrada_asp.engine.knowledge import KnowledgeBase

    version = KnowledgeBase(REPO / "kb").version
    for args in (["decide", str(DENIED)], ["explain", str(DENIED)], ["test", str(DENIED)]):
        result = run(*args, "--kb", str(REPO / "kb"))
        first = result.output.splitlines()[0]
        assert first.startswith("knowledge base: ") and version in first, (args, first)
        assert "kb" in first and "revised 04/01/2026" in first


def test_an_overlay_is_named_in_the_header_with_the_version_it_makes():
    overlay = REPO / "tests" / "fixtures" / "overlays" / "age-17"
    result = run("decide", str(DENIED), "--overlay", str(overlay))
    first = result.output.splitlines()[0]
    assert "age-17" in first and "sha256:" in first


# --- check-kb ---------------------------------------------------------------------


@pytest.mark.slow
def test_check_kb_is_quiet_about_the_decision_cache_unless_asked_and_names_every_overlay():
    overlays = [REPO / "tests" / "fixtures" / "overlays" / name for name in ("age-17", "texas-mandate")]
    args = ["check-kb"] + [a for o in overlays for a in ("--overlay", str(o))]
    quiet = run(*args)
    assert quiet.exit_code == 0, quiet.output
    header = quiet.output.splitlines()[0]
    assert header.startswith("Checking knowledge base: ") and "age-17" in header and "texas-mandate" in header
    assert "leaf groups" not in quiet.output and "I2 <- " not in quiet.output
    assert "decision cache verified: 600 of 600" in quiet.output
    assert len(quiet.output.splitlines()) < 10
    loud = run(*args, "-v")
    assert "leaf groups derived from the rules" in loud.output and "I2 <- age/2, case/1" in loud.output


# --- progress, messages -------------------------------------------------------------


def test_progress_shows_the_total_the_percentage_and_the_time_left_when_the_input_size_is_known(tmp_path, capsys):
    from lemtrada_asp.cli.progress import SHOW_AFTER, input_size, with_progress

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("{}\n\n" * (SHOW_AFTER + 100))  # blank lines are not inputs
    assert input_size([str(corpus)]) == SHOW_AFTER + 100
    assert input_size([str(CASES_DIR)]) == len([p for p in CASES_DIR.iterdir() if ".expected." not in p.name])
    assert input_size(["-"]) is None
    consumed = list(with_progress(iter(range(SHOW_AFTER + 100)), enabled=True, paths=[str(corpus)]))
    assert len(consumed) == SHOW_AFTER + 100
    bar = capsys.readouterr().err
    assert f"{SHOW_AFTER + 100}/{SHOW_AFTER + 100}" in bar and "100%" in bar
    assert "<00:00" in bar  # time left


def test_explain_of_a_directory_asks_for_one_case_without_naming_an_api_function():
    result = run("explain", str(CASES_DIR))
    assert result.exit_code == 2
    assert "expected exactly one case" in result.output and "the decide command takes many" in result.output
    assert "decide_many" not in result.output


def test_a_pdf_is_refused_on_a_terminal_before_it_is_made():
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lemtrada_asp", "letter", str(DENIED), "--format", "pdf"],
            stdout=follower, stderr=subprocess.PIPE, env=environment(), timeout=120, check=False,
        )
        os.set_blocking(leader, False)
        try:
            printed = os.read(leader, 65536)
        except BlockingIOError:
            printed = b""
    finally:
        os.close(leader)
        os.close(follower)
    assert done.returncode == 2
    assert b"%PDF" not in printed
    assert b"a PDF is not printed to a terminal; use --out FILE.pdf" in done.stderr


def test_a_sigterm_after_every_line_was_written_ends_as_a_completed_run(monkeypatch, tmp_path):
    """The signal arrives, for real, while the finished batch shuts its workers down."""
    from lemtrada_asp.engine.policy import Policy

    real = Policy.decide_paths

    def then_a_signal(self, *args, **kwargs):
        results = real(self, *args, **kwargs)

        def wrapped():
            try:
                yield from results
                os.kill(os.getpid(), signal.SIGTERM)  # after the last line
                time.sleep(0.5)
            finally:
                results.close()

        return wrapped()

    monkeypatch.setattr(Policy, "decide_paths", then_a_signal)
    case = write_case(tmp_path, vary(INITIAL, {}))
    result = run("decide", str(case), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "the rest were not decided" not in result.output
    assert json.loads(result.output.splitlines()[0])["decision"] == "approve"


def test_a_sigterm_before_the_last_line_still_stops_the_run_and_says_so(monkeypatch, tmp_path):
    from lemtrada_asp.engine.policy import Policy

    real = Policy.decide_paths

    def signal_midway(self, *args, **kwargs):
        results = real(self, *args, **kwargs)

        def wrapped():
            try:
                yield next(results)
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.5)
                yield from results
            finally:
                results.close()

        return wrapped()

    monkeypatch.setattr(Policy, "decide_paths", signal_midway)
    first = write_case(tmp_path, vary(INITIAL, {"id": "T-1"}), "a.json")
    write_case(tmp_path, vary(INITIAL, {"id": "T-2"}), "b.json")
    result = run("decide", str(first.parent), "--format", "json")
    assert result.exit_code == 143
    assert "1 case written (whole lines); the rest were not decided" in result.output


# --- PDFs set in the shipped fonts --------------------------------------------------


def _pdf_or_skip():
    return require_pdf()


def _fonts_and_text(pypdf, path: Path) -> tuple[set[str], str]:
    reader = pypdf.PdfReader(str(path))
    fonts = {str(f.get_object()["/BaseFont"]).split("+", 1)[-1]
             for page in reader.pages for f in (page["/Resources"].get("/Font") or {}).values()}
    return fonts, "".join(page.extract_text() for page in reader.pages)


TAGLINES = ("注意", "주의", "ATENCIÓN", "Tiếng Việt")


def test_a_pdf_letter_is_set_only_in_the_fonts_the_package_ships(tmp_path):
    pypdf = _pdf_or_skip()
    out = tmp_path / "notice.pdf"
    result = run("letter", str(DENIED), "--format", "pdf", "--out", str(out), "--date", "2026-05-04")
    assert result.exit_code == 0, result.output
    fonts, text = _fonts_and_text(pypdf, out)
    assert fonts and all(name.startswith("Lemtrada-Sans") for name in fonts), fonts
    assert {"Lemtrada-Sans-CJK-TC", "Lemtrada-Sans-CJK-KR", "Lemtrada-Sans-CJK-JP", "Lemtrada-Sans-Arabic"} <= fonts
    assert all(tagline in text for tagline in TAGLINES)


def test_a_pdf_letter_draws_its_taglines_on_a_machine_with_no_fonts_at_all(tmp_path):
    pypdf = _pdf_or_skip()
    empty = tmp_path / "fonts.conf"  # fontconfig with no font directory: a bare container
    empty.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                     f"<cachedir>{tmp_path / 'cache'}</cachedir>\n</fontconfig>\n")
    env = environment() | {"FONTCONFIG_FILE": str(empty)}
    out = tmp_path / "notice.pdf"
    done = subprocess.run(
        [sys.executable, "-m", "lemtrada_asp", "letter", str(DENIED), "--format", "pdf", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr
    fonts, text = _fonts_and_text(pypdf, out)
    assert all(name.startswith("Lemtrada-Sans") for name in fonts), fonts
    assert all(tagline in text for tagline in TAGLINES)


def test_a_character_no_shipped_font_draws_stops_the_pdf_naming_its_code_point(tmp_path):
    _pdf_or_skip()
    case = write_case(tmp_path, vary(INITIAL, {"member.name": "अनु Sharma"}))
    out = tmp_path / "notice.pdf"
    result = run("letter", str(case), "--format", "pdf", "--out", str(out))
    assert result.exit_code == 1
    assert "U+0905" in result.output and "empty boxes" in result.output
    assert not out.exists()
    assert run("letter", str(case), "--format", "html").exit_code == 0  # HTML leaves the fonts to the reader


def test_a_machine_without_pango_skips_the_pdf_tests_saying_what_is_missing(monkeypatch):
    class NoPango:
        """What importing WeasyPrint does where Pango is not installed: an OSError."""

        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "weasyprint":
                raise OSError("cannot load library 'libpango-1.0-0': No such file")
            return None

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPango(), *sys.meta_path])
    with pytest.raises(pytest.skip.Exception, match="PDF letters need Pango, a system library"):
        require_pdf()


def test_the_fonts_ship_with_their_licence_and_keep_the_package_small():
    from lemtrada_asp.notices.typefaces import FACES, FONT_DIR

    assert (FONT_DIR / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") == 1
    sizes = [(FONT_DIR / face.file).stat().st_size for face in FACES]
    assert sum(sizes) < 1_000_000


# --- the bench, for the docs ------------------------------------------------------


@pytest.mark.slow
def test_the_bench_prints_its_figures_as_a_markdown_table():
    done = subprocess.run(
        [sys.executable, "-m", "lemtrada_asp.bench", "--cases", "40", "--baseline-cases", "4", "--runs", "1",
         "--submit-requests", "16", "--quick", "--markdown"],
        capture_output=True, text=True, env=environment(), timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("| workload") and lines[1].startswith("| --- |")
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines)
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines[2:]}
    wanted = ("fresh clingo Control", "plain chunked path", "shipped design: from empty", "shipped design: cache warm",
              "--jobs 1", "--jobs 2", "one case in a fresh process", "deriving the cache", "$submit")
    assert [next((name for name in rows if name.startswith(w)), None) for w in wanted] == list(rows)
    assert "× import clingo" in rows[next(name for name in rows if name.startswith("one case"))]
    assert "CPU" in rows[next(name for name in rows if name.startswith("--jobs 2"))]
