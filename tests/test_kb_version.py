"""kb_version covers everything that can change a decision (issue 22, finding 5): every file the
programs load by #include, whatever its suffix, and the case model's source; so replay,
which trusts the hash, names the right cause of a changed decision.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import INITIAL, KB_DIR
from lemtrada_asp.cli import main
from lemtrada_asp.engine.errors import KnowledgeBaseError
from lemtrada_asp.engine.knowledge import KnowledgeBase
from lemtrada_asp.service.decider import Decider
from lemtrada_asp.service.decision_log import DecisionLog

E4_PPMS = 'finding(K, "E4", applies, ms_course(K, primary_progressive)) :- ms_course(K, primary_progressive).'
E4_RRMS = 'finding(K, "E4", applies, ms_course(K, relapsing_remitting)) :- ms_course(K, relapsing_remitting).'


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def kb_with_rules_file(tmp_path: Path, name: str = "kb") -> Path:
    """The shipped KB with its exclusions in a file that is not .lp, included by the root."""
    kb = tmp_path / name
    shutil.copytree(KB_DIR, kb)
    (kb / "exclusions.lp").rename(kb / "exclusions.rules")
    root = kb / "lemtrada.lp"
    root.write_text(root.read_text().replace('#include "exclusions.lp".', '#include "exclusions.rules".'))
    return kb


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_change_to_an_included_file_of_any_suffix_changes_kb_version(tmp_path):
    kb = kb_with_rules_file(tmp_path)
    before = KnowledgeBase(kb).version
    assert (kb / "exclusions.rules") in KnowledgeBase(kb).loaded
    edit(kb / "exclusions.rules", E4_PPMS, E4_RRMS)
    assert KnowledgeBase(kb).version != before


def test_a_change_to_a_kb_local_case_model_or_a_module_beside_it_changes_kb_version(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    edit(kb / "policy.toml", '"lemtrada_asp.case:CASE_MODEL"', '"own_model.py:X"')
    (kb / "own_model.py").write_text("from lemtrada_asp.case import CASE_MODEL as X\n")
    (kb / "helpers.py").write_text("LIMIT = 1\n")
    first = KnowledgeBase(kb).version
    (kb / "own_model.py").write_text("from lemtrada_asp.case import CASE_MODEL as X\nX = X  # edited\n")
    second = KnowledgeBase(kb).version
    (kb / "helpers.py").write_text("LIMIT = 2\n")
    assert len({first, second, KnowledgeBase(kb).version}) == 3


def test_an_overlays_included_file_is_hashed_and_an_include_out_of_it_is_refused(tmp_path):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "overlay.lp").write_text('#include "extra.inc".\n')
    (overlay / "extra.inc").write_text("param(extra, 1).\n")
    before = KnowledgeBase(KB_DIR, [overlay]).version
    (overlay / "extra.inc").write_text("param(extra, 2).\n")
    assert KnowledgeBase(KB_DIR, [overlay]).version != before
    (overlay / "overlay.lp").write_text('#include "../elsewhere.lp".\n')
    (tmp_path / "elsewhere.lp").write_text("x.\n")
    with pytest.raises(KnowledgeBaseError, match=r'overlay\.lp:1: #include "\.\./elsewhere\.lp" is outside the knowledge base'):
        KnowledgeBase(KB_DIR, [overlay])


def test_replay_names_the_right_cause_when_an_included_file_changed(tmp_path):
    kb = kb_with_rules_file(tmp_path)
    pristine = tmp_path / "pristine"
    shutil.copytree(kb, pristine)
    decider = Decider(kb)
    log = tmp_path / "decisions.jsonl"
    DecisionLog(str(log)).record(endpoint="v1/decide", received=INITIAL, case=INITIAL, decision=decider.decide(INITIAL),
                                 kb_version=decider.kb_version, tool_version=decider.tool_version)
    edit(kb / "exclusions.rules", E4_PPMS, E4_RRMS)  # the KB edited in place after the decision

    in_place = cli("replay", str(log), "--kb", str(kb), "--base", str(kb))
    assert in_place.exit_code == 1, in_place.output
    assert "approve -> deny" in in_place.output
    assert "the decision rules changed" not in in_place.output  # what a stale hash used to say
    assert f"not known here: the line was decided under {decider.kb_version}" in in_place.output

    with_base = cli("replay", str(log), "--kb", str(kb), "--base", str(pristine), "--format", "json")
    assert with_base.exit_code == 1, with_base.output
    change = json.loads(with_base.stdout.splitlines()[1])
    assert change["why_known"] is True and change["statuses"] == {"E4": {"base": "does_not_apply", "kb": "applies"}}
