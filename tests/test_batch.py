"""Batches: worker processes keep input order and account for every line; progress stays off pipes."""

from __future__ import annotations

from types import SimpleNamespace
import json

from conftest import INITIAL, vary
import lemtrada_asp.engine.batch as batch
from lemtrada_asp.engine.batch import Result, decide_paths, reject_duplicate_ids
from lemtrada_asp.cli.progress import SHOW_AFTER, with_progress


def corpus(tmp_path, n: int, bad_every: int = 0):
    lines = []
    for i in range(n):
        case = vary(INITIAL, {"id": f"P-{i}", "request.days": 5 if i % 3 else 3})
        lines.append("{broken" if bad_every and i % bad_every == 7 else json.dumps(case))
    lines.append(json.dumps(vary(INITIAL, {"id": "P-1"})))  # a duplicate id, chunks away from the first
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def summary(results):
    return [(r.source, r.decision["decision"] if r.ok else r.error["problems"][0]["message"][:20]) for r in results]


def test_two_workers_give_the_same_results_in_the_same_order_as_one_process(tmp_path):
    path = corpus(tmp_path, 230, bad_every=50)
    alone = list(decide_paths([str(path)], chunk=40, jobs=1))
    workers = list(decide_paths([str(path)], chunk=40, jobs=2))
    assert summary(workers) == summary(alone)
    assert len(workers) == 231
    assert [r.decision for r in workers if r.ok] == [r.decision for r in alone if r.ok]


def test_every_line_gets_one_result_and_bad_ones_say_why(tmp_path):
    path = corpus(tmp_path, 100, bad_every=50)
    results = list(decide_paths([str(path)], chunk=30, jobs=2))
    assert [r.source for r in results] == [f"{path}:{n}" for n in range(1, 102)]
    bad = {r.source.rsplit(":", 1)[1]: r.error_text for r in results if not r.ok}
    assert set(bad) == {"8", "58", "101"}
    assert "malformed JSON" in bad["8"]
    assert "duplicate case id 'P-1'" in bad["101"]
    assert sum(r.decision["decision"] == "deny" for r in results if r.ok) == 33


def test_progress_is_silent_unless_asked_and_passes_every_result_through(capsys):
    assert list(with_progress(range(SHOW_AFTER + 50), enabled=False)) == list(range(SHOW_AFTER + 50))
    assert capsys.readouterr().err == ""
    assert list(with_progress(range(SHOW_AFTER + 50), enabled=True)) == list(range(SHOW_AFTER + 50))
    assert f"{SHOW_AFTER + 50}" in capsys.readouterr().err
    assert list(with_progress(range(10), enabled=True)) == list(range(10))
    assert capsys.readouterr().err == ""


def test_a_repeated_id_is_an_error_even_past_the_ids_whose_first_source_is_kept(monkeypatch):
    monkeypatch.setattr(batch, "SOURCES_KEPT", 2)
    results = [Result(f"s{i}", record=SimpleNamespace(case_id=c)) for i, c in enumerate("abcacd")]
    checked = list(reject_duplicate_ids(results))
    assert [r.ok for r in checked] == [True, True, True, False, False, True]
    assert checked[3].error_text == "s3: id: duplicate case id 'a', first used at s0"
    assert checked[4].error_text == "s4: id: duplicate case id 'c', first used at an earlier case of this run"


def test_the_same_file_given_twice_is_a_duplicate_the_second_time(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(INITIAL))
    results = list(decide_paths([str(path), str(path)]))
    assert [r.ok for r in results] == [True, False]
    assert "duplicate case id 'T-INITIAL'" in results[1].error_text
