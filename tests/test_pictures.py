"""Pictures: `explain --format html` and `diff --format html`, read back and opened in a real browser.

The pages are checked against the JSON the same commands print (`explain --format
json`, `diff --format json`, `criteria --format json`), so every status, sentence,
fact and number on a page is one the project computed. The browser tests open the
pages in Debian's headless Chromium through its chromedriver (never a downloaded
browser or driver: Selenium Manager is made to fail if anything calls it), assert
what the DOM shows and write a screenshot of each page to SCREENSHOTS.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES_DIR, INITIAL, KB_DIR, vary
from lemtrada_asp.cli import main
from lemtrada_asp.render.text import STATUS_WORDS

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"  # the browser tests' pictures (git-ignored)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTH = 1280  # px: the browser window's width for every screenshot
TALLEST = 12000  # px: a full-page screenshot is cut here

HOSTILE = "<script>document.title='pwned'</script>"
DENIED = CASES_DIR / "an-active-tuberculosis-infection-fails-i5-and-is-excluded.yaml"
# The example cases about step therapy (some change under the edit below, some do not) and one other.
CORPUS = sorted(p for p in CASES_DIR.glob("*.yaml") if not p.name.endswith(".expected.yaml")
                and re.search(r"step-therapy|natalizumab|oral-dmt|full-documentation", p.name))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def explain(case: Path, fmt: str, *extra: str) -> str:
    status, out = run("explain", str(case), "--format", fmt, *extra)
    assert status == 0, out
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pictures")


@pytest.fixture(scope="module")
def hostile_case(folder: Path) -> Path:
    """A case whose file name and infection text are markup, and that the edit below changes.

    Without a natalizumab entry step therapy is undocumented; the edit drops natalizumab
    from I4, so I4 becomes met and the case's missing ids change.
    """
    case = vary(INITIAL, {"id": "HOSTILE-1", "dmt_history": [{"drug": "fingolimod", "outcome": "failed"}],
                          "active_infections": [HOSTILE]})
    path = folder / "case-<b>bold.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def edited_kb(folder: Path) -> Path:
    """The shipped KB with natalizumab no longer required for step therapy (README's example (b))."""
    kb = folder / "kb-no-natalizumab"
    shutil.copytree(KB_DIR, kb)
    catalogue = kb / "catalogue.lp"
    old = 'child("I4", ("I4.a"; "I4.b")).'
    assert old in catalogue.read_text(), "the catalogue changed: this test's edit needs updating"
    catalogue.write_text(catalogue.read_text().replace(old, 'child("I4", "I4.b").'))
    return kb


@pytest.fixture(scope="module")
def diff_run(edited_kb: Path, hostile_case: Path, folder: Path) -> dict:
    """The same diff as HTML and as JSON: the example cases and the hostile one."""
    args = ["diff", *map(str, CORPUS), str(hostile_case), "--kb", str(edited_kb)]
    status, page = run(*args, "--format", "html")
    assert status == 1, page  # something changed
    json_status, out = run(*args, "--format", "json")
    assert json_status == 1, out
    lines = [json.loads(line) for line in out.splitlines()]
    path = folder / "diff.html"
    path.write_text(page, encoding="utf-8")
    return {"html": page, "path": path, "summary": lines[0]["summary"], "changes": lines[1:]}


def node_card(ident: str) -> str:
    """The CSS selector of a node's card in the explain page (a dot in an id is escaped)."""
    return "#c-" + ident.replace(".", "\\.") + " > .card"


def walk(nodes: list[dict]):
    for node in nodes:
        yield node
        yield from walk(node.get("children", []))


def sentences() -> dict[str, list[str]]:
    status, out = run("criteria", "--format", "json")
    assert status == 0, out
    return {c["id"]: [s["text"] for s in c["sentences"]] for c in json.loads(out)["criteria"]}


def parse_errors(page: str) -> list:
    tinyhtml5 = pytest.importorskip("tinyhtml5.parser", reason="tinyhtml5 (WeasyPrint's HTML5 parser, [pdf] extra) checks the HTML")
    parser = tinyhtml5.HTMLParser()
    parser.parse(page)
    return parser.errors


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert parse_errors(page) == []
    assert "<script" not in page.lower() and "<link" not in page.lower() and "<img" not in page.lower()
    assert "@import" not in page and "url(" not in page
    assert all(target.startswith("#") for target in re.findall(r'\b(?:href|src)="([^"]*)"', page))
    ids = re.findall(r'(?<![-\w])id="([^"]*)"', page)
    assert [i for i, n in Counter(ids).items() if n > 1] == []


# --- the pages as files ------------------------------------------------------------


def test_explain_html_is_one_valid_page_that_loads_nothing_and_runs_nothing():
    page = explain(DENIED, "html")
    assert_self_contained(page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_the_page_is_written_in_the_utf8_it_declares_whatever_the_terminals_encoding():
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "latin-1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-m", "lemtrada_asp", "explain", str(DENIED), "--format", "html"],
                         capture_output=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    page = explain(DENIED, "html")
    assert out.stdout.decode("utf-8") == page and '<meta charset="utf-8">' in page and "\u2713" in page


def test_explain_html_has_a_node_for_every_criterion_of_the_json_tree_with_its_status():
    tree = json.loads(explain(DENIED, "json"))
    page = explain(DENIED, "html")
    for node in walk(tree["criteria"]):
        assert f'id="c-{node["id"]}" data-id="{node["id"]}" data-status="{node["status"]}"' in page


def test_case_text_that_is_markup_appears_escaped_in_the_explanation(hostile_case: Path):
    page = explain(hostile_case, "html")
    assert_self_contained(page)
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in page
    assert "case-&lt;b&gt;bold.json" in page and "<b>" not in page


def test_a_case_id_that_is_markup_is_escaped_by_the_renderer():
    from lemtrada_asp.engine.policy import Policy
    from lemtrada_asp.analysis.trace import policy_sentences
    from lemtrada_asp.render.html import explanation_page

    policy = Policy.load(KB_DIR)
    decision = replace(policy.decide(str(DENIED), details=True), case_id=HOSTILE)
    page = explanation_page(decision, policy_sentences(policy.kb))
    assert "<script" not in page and page.count("&lt;script&gt;") >= 2  # the title and the tree's header


def test_diff_html_is_one_valid_page_that_loads_nothing(diff_run: dict):
    assert_self_contained(diff_run["html"])
    assert "case-&lt;b&gt;bold.json" in diff_run["html"]


def test_diff_html_shows_the_counts_of_the_json_diff(diff_run: dict):
    page, summary = diff_run["html"], diff_run["summary"]
    for key in ("compared", "changed", "unchanged", "invalid"):
        assert f'<dd id="{key}">{summary[key]}</dd>' in page
    assert summary["transitions"], "the edit must change some case for this test to mean anything"
    for t in summary["transitions"]:
        label = f"{t['from']} \u2192 {t['to']}"
        assert f'data-label="{label}" data-count="{t["count"]}"' in page
        assert f'<tr data-from="{t["from"]}" data-to="{t["to"]}"><td>{t["from"]}</td><td>{t["to"]}</td><td class="number">{t["count"]}</td></tr>' in page
    assert page.count('<section class="case" id="case-') == summary["changed"] == len(diff_run["changes"])
    by_decision = Counter((c["base"]["decision"], c["kb"]["decision"]) for c in diff_run["changes"])
    for a in ("approve", "deny", "pend"):
        for b in ("approve", "deny", "pend"):
            assert f'<g class="cell" data-from="{a}" data-to="{b}" data-count="{by_decision[(a, b)]}">' in page


def test_a_diff_report_draws_the_trees_of_at_most_trees_at_most_cases_and_lists_every_changed_case(
        diff_run: dict, edited_kb: Path, hostile_case: Path, monkeypatch):
    from lemtrada_asp.render import html

    changed = diff_run["summary"]["changed"]
    assert changed > 1
    monkeypatch.setattr(html, "TREES_AT_MOST", 1)
    status, page = run("diff", *map(str, CORPUS), str(hostile_case), "--kb", str(edited_kb), "--format", "html")
    assert status == 1
    assert_self_contained(page)
    assert page.count('<section class="case"') == 1 and page.count('<tr><td class="number">') == changed
    assert f"Drawn below with their trees: the first 1 of the {changed} changed cases; the others are listed above only" in page


def test_diff_html_reports_a_corpus_and_says_so_with_exhaustive():
    status, out = run("diff", "--exhaustive", "--format", "html")
    assert status == 2 and "--format html reports a corpus" in out


def test_diff_html_of_an_edit_that_changes_nothing_says_no_case_decides_differently():
    status, page = run("diff", *map(str, CORPUS[:3]), "--kb", str(KB_DIR), "--format", "html")
    assert status == 0
    assert_self_contained(page)
    assert "No case decides differently." in page and '<dd id="changed">0</dd>' in page and 'class="case"' not in page


# --- in a real browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through its chromedriver, with a fresh profile; skipped without them."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.skip(f"the browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} absent; .ci/run installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium (the [test] extra)")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def refuse(*args, **kwargs):
        raise AssertionError("Selenium Manager would download a browser or driver: the tests use Debian's")

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SeleniumManager, "binary_paths", refuse)
        patch.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            driver.set_window_size(WIDTH, 1000)
            yield driver
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str, height: int | None = None) -> Path:
    """The page as SCREENSHOTS/name.png: as tall as it is (up to TALLEST), or the window at height px from where it is scrolled."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if height is None:
        height = min(driver.execute_script("return document.documentElement.scrollHeight") + 120, TALLEST)
    driver.set_window_size(WIDTH, height)
    path = SCREENSHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path))
    driver.set_window_size(WIDTH, 1000)
    assert path.stat().st_size > 10_000  # a picture, not an empty page
    return path


def open_page(driver, path: Path) -> None:
    driver.get(path.as_uri())
    assert driver.execute_script("return document.readyState") == "complete"


def text_of(driver, selector: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent.replace(/\\s+/g, ' ').trim())", selector)


@pytest.mark.slow
def test_the_explanation_in_chromium_shows_each_criterion_with_its_status_policy_sentence_and_facts(browser, folder: Path):
    tree = json.loads(explain(DENIED, "json"))
    path = folder / "explain.html"
    path.write_text(explain(DENIED, "html"), encoding="utf-8")
    open_page(browser, path)
    quoted = sentences()
    nodes = list(walk(tree["criteria"]))
    shown = browser.execute_script("return Array.from(document.querySelectorAll('li.node'), e => e.id)")
    assert shown == [f"c-{n['id']}" for n in nodes]  # every node, in the JSON tree's order (failing first)
    for node in nodes:
        card = node_card(node["id"])
        assert text_of(browser, f"{card} .status") == [STATUS_WORDS[node["status"]]]
        assert text_of(browser, f"{card} blockquote.policy .quote") == [f"\u201c{s}\u201d" for s in quoted[node["id"]]]
        assert text_of(browser, f"{card} .fact") == [f"because {fact}" for fact in node.get("facts", [])]
    colour = "return getComputedStyle(document.querySelector(arguments[0])).borderLeftColor"
    failed = next(n["id"] for n in nodes if n["status"] == "not_met")
    passed = next(n["id"] for n in nodes if n["status"] == "met")
    assert browser.execute_script(colour, node_card(failed)) != browser.execute_script(colour, node_card(passed))
    assert text_of(browser, ".verdict .decision") == [f"\u2717 {tree['decision'].upper()}"]
    for href in browser.execute_script("return Array.from(document.querySelectorAll('a[href^=\"#\"]'), a => a.getAttribute('href'))"):
        assert browser.execute_script("return document.getElementById(arguments[0]) !== null", href[1:]), href
    screenshot(browser, "explain")


@pytest.mark.slow
def test_markup_in_a_case_is_shown_as_text_in_chromium_and_runs_nothing(browser, hostile_case: Path, folder: Path):
    path = folder / "hostile.html"
    path.write_text(explain(hostile_case, "html"), encoding="utf-8")
    open_page(browser, path)
    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.title != "pwned" and "HOSTILE-1" in browser.title
    assert f'because active_infections[0]: "{HOSTILE}"' in text_of(browser, "#c-I5\\.b .fact")
    assert "case-<b>bold.json" in text_of(browser, ".meta code")[0]
    screenshot(browser, "explain-hostile")


@pytest.mark.slow
def test_the_diff_report_in_chromium_shows_the_json_diffs_numbers_and_links_every_case_to_its_trees(browser, diff_run: dict):
    summary, changes = diff_run["summary"], diff_run["changes"]
    open_page(browser, diff_run["path"])
    for key in ("compared", "changed", "unchanged", "invalid"):
        assert text_of(browser, f"#{key}") == [str(summary[key])]
    bars = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg[data-chart=transitions] g.row'), "
        "g => [g.querySelector('.label').textContent, g.querySelector('.count').textContent])")
    assert bars == [[f"{t['from']} \u2192 {t['to']}", str(t["count"])] for t in summary["transitions"]]
    grid = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg[data-chart=matrix] g.cell'), g => [g.dataset.from, g.dataset.to, g.textContent])")
    by_decision = Counter((c["base"]["decision"], c["kb"]["decision"]) for c in changes)
    assert len(grid) == 9 and all(text == str(by_decision[(a, b)]) for a, b, text in grid)
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.transitions tr[data-from]'), r => Array.from(r.cells, c => c.textContent))")
    assert cells == [[t["from"], t["to"], str(t["count"])] for t in summary["transitions"]]
    per_criterion = Counter((ident, s["base"], s["kb"]) for c in changes for ident, s in c["statuses"].items())
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.criteria tr[data-id]'), "
        "r => [r.dataset.id, r.dataset.base, r.dataset.kb, Number(r.querySelector('.number').textContent)])")
    assert Counter({(i, b, k): n for i, b, k, n in rows}) == per_criterion and len(rows) == len(per_criterion)
    criteria_bars = text_of(browser, "svg[data-chart=criteria] g.row .count")
    assert sorted(map(int, criteria_bars)) == sorted(per_criterion.values())
    listed = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.changed-cases a'), a => [a.textContent, a.getAttribute('href')])")
    assert [name for name, _ in listed] == [c["case_id"] for c in changes]
    for name, href in listed:
        section = browser.execute_script("return document.getElementById(arguments[0])", href[1:])
        assert section is not None and section.get_attribute("class") == "case", href
        assert name in section.find_element("css selector", "h2").text
    for href in browser.execute_script("return Array.from(document.querySelectorAll('a[href^=\"#\"]'), a => a.getAttribute('href'))"):
        assert browser.execute_script("return document.getElementById(arguments[0]) !== null", href[1:]), href
    hostile = next(n for n, c in enumerate(changes, 1) if c["case_id"] == "HOSTILE-1")
    kb_i4 = f"case-{hostile}-kb-I4"
    assert browser.execute_script("return document.getElementById(arguments[0]).dataset.status", kb_i4) == "met"
    assert "changed: not documented \u2192 met" in browser.execute_script(
        "return document.getElementById(arguments[0]).querySelector('.was').textContent", kb_i4)
    assert browser.execute_script("return document.scripts.length") == 0
    screenshot(browser, "diff", height=1800)
    browser.set_window_size(WIDTH, 1400)
    browser.get(diff_run["path"].as_uri() + f"#case-{hostile}")
    assert browser.execute_script("return document.querySelector(':target').id") == f"case-{hostile}"
    screenshot(browser, "diff-case", height=1400)
