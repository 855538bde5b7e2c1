"""The documentation cannot go stale: every ``console`` block in README.md and the guides is run.

A fenced block opened with ```` ```console ```` holds ``$ command`` lines, each followed by
the output it must print (standard output and standard error, as a terminal shows them).
Each command runs with a shell in the checkout, with this environment's ``lemtrada-asp``
and ``python`` first on the PATH and the checkout first on PYTHONPATH, so the docs are
checked against this code, not an installed copy.

Volatile parts are masked explicitly, and only by one placeholder, ``…`` (U+2026):

* within a line it stands for any text on that line (``sha256:…``, ``compared in … s``);
* a line holding only ``…`` stands for any number of lines, none included.

Trailing whitespace at the end of a line is not compared (editors strip it). Nothing
else is masked: a changed count, line number or word fails the test, naming the file
and line of the block, with a diff.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ANY = "…"
OPEN = re.compile(r"^(?P<indent>\s*)```console\s*$")

__all__ = ["Block", "blocks_in", "expected_pattern", "matches", "run_block"]


def documents() -> list[Path]:
    """README.md and every guide beside the code (kb/, lemtrada_asp/)."""
    found = [REPO / "README.md"]
    for folder in ("kb", "lemtrada_asp"):
        found += sorted((REPO / folder).rglob("*.md"))
    return [p for p in found if p.is_file()]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    steps: tuple[tuple[str, tuple[str, ...]], ...]  # (command, expected output lines)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks_in(path: Path) -> list[Block]:
    """The console blocks of one markdown file, each as its commands and expected outputs."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks, i = [], 0
    while i < len(lines):
        match = OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        indent, start, body = match.group("indent"), i + 1, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            text = lines[i]
            body.append(text[len(indent):] if text.startswith(indent) else text.lstrip())
            i += 1
        steps: list[tuple[str, list[str]]] = []
        for text in body:
            if text.startswith("$ "):
                steps.append((text[2:], []))
            elif steps:
                steps[-1][1].append(text)
            elif text.strip():
                raise ValueError(f"{path}:{start}: a console block must start with a '$ command' line")
        blocks.append(Block(path, start, tuple((c, tuple(out)) for c, out in steps)))
        i += 1
    return blocks


def expected_pattern(expected: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """A regular expression for the expected lines, with ``…`` masked as documented above."""
    parts = []
    for line in expected:
        line = line.rstrip()
        if line.strip() == ANY:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append("[^\n]*?".join(re.escape(piece) for piece in line.split(ANY)) + r"\n")
    return re.compile("".join(parts))


def normalised(output: str) -> str:
    lines = [line.rstrip() for line in output.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(line + "\n" for line in lines)


def matches(expected: tuple[str, ...] | list[str], output: str) -> bool:
    trimmed = list(expected)
    while trimmed and not trimmed[-1].strip():
        trimmed.pop()
    return expected_pattern(trimmed).fullmatch(normalised(output)) is not None


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    env["PYTHONIOENCODING"] = "utf-8"
    for name in ("LEMTRADA_PLAN", "COLUMNS", "NO_COLOR", "LEMTRADA_DEBUG"):
        env.pop(name, None)
    return env


def run_block(block: Block) -> list[str]:
    """Run each command of a block; one message (with a diff) per output that differs."""
    problems = []
    for command, expected in block.steps:
        done = subprocess.run(
            command, shell=True, cwd=REPO, env=environment(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", timeout=180, check=False,
        )
        if not matches(expected, done.stdout):
            wanted = [line.rstrip() for line in expected]
            printed = normalised(done.stdout).rstrip("\n").split("\n")
            for i, line in enumerate(printed):  # a masked line that matches is shown as documented
                if i < len(wanted) and ANY in wanted[i] and expected_pattern([wanted[i]]).fullmatch(line + "\n"):
                    printed[i] = wanted[i]
            diff = "\n".join(difflib.unified_diff(wanted, printed, "documented", "printed", lineterm=""))
            problems.append(f"{block.where}: $ {command}\n{diff}")
    return problems


ALL_BLOCKS = [block for path in documents() for block in blocks_in(path)]


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.where for b in ALL_BLOCKS])
def test_every_console_example_in_the_docs_prints_what_it_shows(block):
    problems = run_block(block)
    assert not problems, "\n\n".join(problems)


def test_the_readme_quick_start_example_is_one_of_the_blocks_run():
    quick = [b for b in ALL_BLOCKS if b.path.name == "README.md" and b.path.parent == REPO]
    assert any(command.startswith("lemtrada-asp decide cases/") for b in quick for command, _ in b.steps)


def test_editing_one_character_of_a_documented_output_fails_the_comparison():
    block = next(b for b in ALL_BLOCKS if b.path == REPO / "README.md")
    command, expected = block.steps[0]
    output = subprocess.run(
        command, shell=True, cwd=REPO, env=environment(), capture_output=True, text=True, timeout=180, check=False,
    ).stdout
    assert matches(expected, output)
    row = next(i for i, line in enumerate(expected) if "age 17" in line)
    edited = list(expected)
    edited[row] = edited[row].replace("age 17", "age 18")
    assert not matches(edited, output)


def test_the_placeholder_masks_within_a_line_and_whole_lines_and_nothing_else():
    assert matches(["kb: sha256:…", "…", "end"], "kb: sha256:abc123\none\ntwo\nend\n")
    assert matches(["a", "…", "b"], "a\nb\n")
    assert not matches(["count: 74"], "count: 75\n")
    assert not matches(["kb: sha256:…", "end"], "kb: sha256:abc\nextra\nend\n")


def test_the_readme_is_a_short_guide_linking_every_command():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.split("\n")) <= 300
    from click.testing import CliRunner

    from lemtrada_asp.cli import main

    commands = sorted(main.commands)
    table = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z-]+)` \|[^\n]*\[[^\]]+\]\(([^)]+)\) \|$", text, re.M)}
    assert set(commands) <= set(table), f"commands without a row in the README's table: {set(commands) - set(table)}"
    for name, link in table.items():
        target = REPO / link.split("#")[0]
        assert target.is_file(), f"{name}: {link} does not exist"
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0


def test_the_user_documentation_names_no_commit_session_issue_or_load_average():
    words = re.compile(r"\b(this session|issue \d+|load average|previous release|[0-9a-f]{7,12}\b(?=[ ,)]))", re.I)
    found = []
    for path in documents():
        if path.name in {"SECURITY.md", "AUDIT.md", "PAS.md"}:  # written by other developers
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            for match in words.finditer(line):
                if not match.group(0).isdigit():
                    found.append(f"{path.relative_to(REPO)}:{number}: {match.group(0)}")
    assert not found, "\n".join(found)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a markdown file's headings (outside fenced blocks)."""
    found, fenced = set(), False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_every_link_between_the_docs_reaches_a_file_and_a_heading_that_exist():
    broken = []
    for path in documents():
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            file, _, anchor = target.partition("#")
            where = (path.parent / file).resolve() if file else path
            if not where.exists():
                broken.append(f"{path.relative_to(REPO)}: {target}: no such file")
            elif anchor and where.suffix == ".md" and anchor not in anchors(where):
                broken.append(f"{path.relative_to(REPO)}: {target}: no such heading")
    assert not broken, "\n".join(broken)
