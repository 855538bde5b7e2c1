"""The engine is generic: it names nothing of the Lemtrada policy, and a second policy
(tests/fixtures/toy_policy: another drug, its own case model) decides, explains,
corrects and diffs through it with no change to any engine module."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import KB_DIR
from lemtrada_asp import InputError, Policy
from lemtrada_asp.analysis.changes import compare_paths
from lemtrada_asp.case.model import DMT_ALIASES
from lemtrada_asp.cli import main
from lemtrada_asp.render.explain import tree

ENGINE = Path(__file__).resolve().parent.parent / "lemtrada_asp" / "engine"
TOY = Path(__file__).resolve().parent / "fixtures" / "toy_policy"
TOY_CASES = TOY / "cases"


def lemtrada_words() -> set[str]:
    """Every criterion id, parameter, drug and code of the shipped policy, and its name."""
    catalogue = Policy.load(KB_DIR).catalogue
    words = set(catalogue.criteria) | set(catalogue.params)
    words |= {w for name, aliases in DMT_ALIASES.items() for w in (name, *aliases)}
    words |= {"J0202", "G35", "lemtrada", "alemtuzumab", "natalizumab", "state_mandate", "case_by_case"}
    return words


def test_no_engine_module_or_encoding_names_anything_of_the_lemtrada_policy():
    words = lemtrada_words()
    pattern = re.compile(r"(?<![\w.])(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")(?![\w])", re.I)
    found = []
    for path in sorted(ENGINE.rglob("*")):
        if path.suffix not in (".py", ".lp"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in pattern.finditer(line.replace("lemtrada_asp", "")):
                found.append(f"{path.relative_to(ENGINE)}:{number}: {match.group(0)}")
    assert found == []


@pytest.fixture(scope="module")
def toy() -> Policy:
    return Policy.load(TOY)


EXPECTED = {
    "approve.json": ("approve", None, [], []),
    "deny.json": ("deny", None, ["T2"], []),
    "pend-information.json": ("pend", "information", [], ["T1"]),
    "pend-dose.json": ("pend", "dose_review", [], []),
    "excluded.json": ("deny", None, ["X1"], []),
    "young.json": ("deny", None, ["T1"], []),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_toy_policy_decides_its_cases(toy, name):
    d = toy.decide(TOY_CASES / name)
    assert (d.decision, d.pend_reason, [f.id for f in d.failed], [m.id for m in d.missing]) == EXPECTED[name]
    assert d.to_json()["kb_version"] == toy.version != Policy.load(KB_DIR).version


def test_the_toy_policy_explains_an_all_of_branch_down_to_its_facts(toy):
    d = toy.decide(TOY_CASES / "young.json", details=True)
    [t1] = d.failed
    assert [(r.id, r.status, [e.text for e in r.because]) for r in t1.reasons] == [
        ("T1.a", "not_met", ["age: 10"]), ("T1.b", "not_met", ["ige: 25 IU/mL"])]
    criteria = tree(d)["criteria"]
    assert [n["id"] for n in criteria] == ["T1", "T2", "X1"]  # failing first, then what passed
    assert criteria[0]["title"] == "Member is 12 or older with IgE of at least 30 IU/mL"  # texts from param/2


def test_the_toy_policy_corrects_an_any_of_with_either_alternative(toy):
    d = toy.decide(TOY_CASES / "deny.json", corrections=True)
    assert [[(c.id, c.actionable) for c in s] for s in d.corrections] == [[("T2.a", True)], [("T2.b", True)]]
    pended = toy.decide(TOY_CASES / "pend-information.json", corrections=True)
    assert [[c.id for c in s] for s in pended.corrections] == [["T1.b"]]
    assert toy.decide(TOY_CASES / "pend-dose.json", corrections=True).corrections is None  # a target: no change needed


def test_the_toy_policy_grants_and_advises_through_its_hooks(toy):
    d = toy.decide(TOY_CASES / "approve.json")
    assert d.to_json()["authorized"] == {"mg": 300}
    assert [a.id for a in d.advisories] == ["anaphylaxis"]


def test_the_toy_case_model_reports_its_own_input_errors(toy):
    with pytest.raises(InputError, match=r"toy-input: dose_mg"):
        toy.decide({"id": "BAD", "dose_mg": "lots"}, source="toy-input")


def test_the_toy_policy_diffs_against_an_edited_copy(tmp_path):
    edited = tmp_path / "toy"
    shutil.copytree(TOY, edited)
    rules = edited / "toy.lp"
    rules.write_text(rules.read_text().replace("param(min_age, 12).", "param(min_age, 9).").replace("param(min_ige, 30).", "param(min_ige, 20)."))
    changes = {r.decision["case_id"]: c for r, c in compare_paths([str(TOY_CASES)], TOY, edited)}
    assert {k for k, c in changes.items() if c is not None} == {"TOY-YOUNG"}
    young = changes["TOY-YOUNG"]
    assert young.transition == ("deny", "approve") and young.statuses["T1.a"] == ("not_met", "met")


def test_the_cli_decides_the_toy_policy_with_kb(tmp_path):
    result = CliRunner().invoke(main, ["decide", str(TOY_CASES), "--kb", str(TOY), "--format", "json"])
    assert result.exit_code == 0, result.output
    decided = {d["case_id"]: d["decision"] for d in map(json.loads, result.output.splitlines())}
    assert decided == {"TOY-APPROVE": "approve", "TOY-DENY": "deny", "TOY-PEND": "pend", "TOY-DOSE": "pend",
                       "TOY-EXCLUDED": "deny", "TOY-YOUNG": "deny"}


# --- the layers ----------------------------------------------------------------------------

PACKAGE = ENGINE.parent
ALLOWED = {  # each layer reads only the layers before it
    "engine": set(),
    "case": {"engine"},
    "notices": {"engine"},  # the rules of each line of business, plan settings, language access, PDF
    "render": {"engine", "case", "notices"},
    "analysis": {"engine", "case", "notices", "render"},
    "service": {"engine", "case", "notices", "render", "analysis"},  # the desk: deadlines and signed PDFs
    "cli": {"engine", "case", "notices", "render", "analysis", "service"},
}


def imported_layers(path: Path) -> set[str]:
    import ast as python_ast

    tree = python_ast.parse(path.read_text())
    layers = set()
    for node in python_ast.walk(tree):
        if isinstance(node, python_ast.ImportFrom) and node.level >= 1 and node.module:
            relative = path.relative_to(PACKAGE).parts
            base = relative[: len(relative) - node.level]
            target = (*base, *node.module.split("."))
            if target and target[0] in ALLOWED:
                layers.add(target[0])
        elif isinstance(node, python_ast.ImportFrom) and node.module and node.module.startswith("lemtrada_asp."):
            layers.add(node.module.split(".")[1])
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_before_it(layer):
    wrong = {str(p.relative_to(PACKAGE)): imported_layers(p) - ALLOWED[layer] - {layer}
             for p in sorted((PACKAGE / layer).rglob("*.py"))}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_policy_text_ships_with_the_kb_and_nothing_cites_a_folder_outside_it():
    policy = Policy.load()
    assert policy.kb.source_text.is_file() and "Lemtrada" in policy.kb.source_text.read_text()
    repo = PACKAGE.parent
    cited = [str(p.relative_to(repo)) for p in [repo / "README.md", *repo.joinpath("kb").rglob("*"), *PACKAGE.rglob("*.py")]
             if p.is_file() and "../shared" in p.read_text(errors="ignore")]
    assert cited == []


def engine_imports() -> dict[str, set[str]]:
    """Each engine module's imports of other engine modules (at any depth of the file: top level,
    inside a function, under TYPE_CHECKING), as dotted names below the engine package."""
    import ast as python_ast

    found: dict[str, set[str]] = {}
    for path in sorted(ENGINE.rglob("*.py")):
        parts = path.relative_to(ENGINE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"
        package = parts[:-1]
        targets = found.setdefault(name, set())
        for node in python_ast.walk(python_ast.parse(path.read_text())):
            if isinstance(node, python_ast.ImportFrom) and node.level >= 1:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                if node.level - 1 > len(package):
                    continue  # above the engine package
                module = (*base, *node.module.split(".")) if node.module else base
                for alias in node.names:
                    as_module = ".".join((*module, alias.name))
                    if (ENGINE / Path(*module, alias.name)).with_suffix(".py").is_file() or (ENGINE / Path(*module, alias.name)).is_dir():
                        targets.add(as_module)
                    elif module:
                        targets.add(".".join(module))
    return found


def test_no_two_engine_modules_import_each_other():
    imports = engine_imports()
    assert "batch" in imports["executors"] or "chunks" in imports["executors"]  # the walk sees relative imports
    circles = sorted({tuple(sorted((a, b))) for a, targets in imports.items() for b in targets
                      if a != b and a in imports.get(b, set())})
    assert circles == []
