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


def lines_of(results) -> list[str]:
    return [r.line for r in results]


def test_results_that_come_back_from_workers_as_lines_are_the_same_bytes_as_records_decided_here(tmp_path):
    from lemtrada_asp.engine.batch import Options
    from lemtrada_asp.engine.policy import Policy

    path = corpus(tmp_path, 450, bad_every=60)
    policy = Policy.load()
    alone = list(decide_paths([str(path)], policy.engine, chunk=40, jobs=1))
    plain = list(decide_paths([str(path)], policy.engine, options=Options(cache=False), chunk=40, jobs=1))
    workers = list(decide_paths([str(path)], policy.engine, options=Options(lines=True), chunk=40, jobs=2))
    assert lines_of(workers) == lines_of(alone) == lines_of(plain)
    assert [json.dumps(r.decision if r.ok else r.error, ensure_ascii=False) for r in alone] == lines_of(alone)
    came_as_text = [r for r in workers if r.ok and r.record is None]
    assert came_as_text  # the chunks past the first two went to the workers
    assert all(r.text is not None and r.case_id == r.decision["case_id"] for r in came_as_text)
    assert [r.case_id for r in workers] == [r.case_id for r in alone]
    assert [policy.in_force(r) for r in workers] == [policy.in_force(r.record) if r.ok else True for r in alone]


def test_a_line_from_a_worker_says_whether_the_kb_was_in_force_on_the_request_date(tmp_path):
    from lemtrada_asp.engine.batch import Options
    from lemtrada_asp.engine.policy import Policy

    policy = Policy.load()
    from datetime import timedelta

    early = {"request.date": (policy.effective_date - timedelta(days=10)).isoformat(),
             "chart_date": (policy.effective_date - timedelta(days=20)).isoformat()}
    lines = [json.dumps(vary(INITIAL, {"id": f"E-{i}", **(early if i % 2 else {})})) for i in range(200)]
    path = tmp_path / "dated.jsonl"
    path.write_text("\n".join(lines) + "\n")
    results = list(decide_paths([str(path)], policy.engine, options=Options(lines=True), chunk=20, jobs=2))
    from_workers = [r for r in results if r.record is None]
    assert all(r.ok for r in results)
    assert from_workers and {r.in_force for r in from_workers} == {True, False}
    assert [policy.in_force(r) for r in results] == [i % 2 == 0 for i in range(200)]


def test_forked_workers_start_with_the_parents_derived_cache_and_never_derive(tmp_path, monkeypatch):
    import multiprocessing
    import os

    import pytest

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("workers are spawned on this platform")
    import lemtrada_asp.engine.cache.memory as memory
    from lemtrada_asp.engine.batch import Options
    from lemtrada_asp.engine.engine import Engine
    from lemtrada_asp.engine.knowledge import KnowledgeBase

    monkeypatch.setenv("LEMTRADA_ASP_CACHE_DIR", "off")  # nothing on disk: a worker could only derive again
    engine = Engine(KnowledgeBase())
    derived = tmp_path / "derived"
    derive = memory.derive

    def counted(kb):
        with derived.open("a") as out:  # a file, so a worker's call would show here too
            out.write(f"{os.getpid()}\n")
        return derive(kb)

    monkeypatch.setattr(memory, "derive", counted)
    path = corpus(tmp_path, 300)
    results = list(decide_paths([str(path)], engine, options=Options(lines=True), chunk=30, jobs=2))
    assert len(results) == 301 and any(r.record is None for r in results)
    assert derived.read_text().splitlines() == [str(os.getpid())]  # once, here, before the fork


def test_a_forked_worker_has_neither_the_parents_sigterm_handler_nor_its_wakeup_pipe(tmp_path, monkeypatch):
    import multiprocessing
    import os
    import signal

    import pytest

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("workers are spawned on this platform")
    read, write = os.pipe()
    os.set_blocking(write, False)
    previous_fd = signal.set_wakeup_fd(write)
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # as SignalStop sets them in the parent
    try:
        pool = batch._pool(batch.Engine(batch.KnowledgeBase()), batch.Options(cache=False), 1)
        try:
            handler, wakeup = pool.submit(_signal_state).result(timeout=60)
        finally:
            pool.shutdown()
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.set_wakeup_fd(previous_fd)
        os.close(read)
        os.close(write)
    assert handler == "default" and wakeup == -1


def _signal_state():
    import signal

    handler = signal.getsignal(signal.SIGTERM)
    wakeup = signal.set_wakeup_fd(-1)
    return ("default" if handler == signal.SIG_DFL else repr(handler)), wakeup


def _dealt(dealer, cases):
    records = [batch.Record(f"<{i}>", text=json.dumps(c)) for i, c in enumerate(cases)]
    places = dealer.deal(records)
    return {i: w for w, ps in enumerate(places) for i in ps}


def test_cases_with_the_same_values_of_the_caches_hooks_go_to_one_worker_and_a_new_value_to_the_least_dealt():
    engine = batch.Engine(batch.KnowledgeBase())
    dealer = batch._Dealer(engine, batch.Options(), 2, slack=1_000)
    assert [path for path, _ in dealer.paths] == ["lemtrada_courses", "member.state"]  # the hooks' fields, from the schema
    no_course = vary(INITIAL, {"lemtrada_courses": []})
    one_course = vary(INITIAL, {"lemtrada_courses": [{"start_date": "2024-01-02", "days": 5}]})
    cases = [no_course, one_course, no_course, one_course, no_course, no_course]
    worker = _dealt(dealer, cases)
    assert worker[0] == worker[2] == worker[4] == worker[5]
    assert worker[1] == worker[3] != worker[0]
    # Two states the KB never tells apart (the cache collapses them) are one value: one worker for both.
    states = [vary(no_course, {"member.state": s}) for s in ("WA", "TX", "NY")]
    assert len(set(_dealt(dealer, states).values())) == 1


def test_a_case_the_parent_cannot_read_cheaply_is_dealt_by_load_alone_and_a_value_too_common_is_shared():
    engine = batch.Engine(batch.KnowledgeBase())
    dealer = batch._Dealer(engine, batch.Options(), 2, slack=2)
    records = [batch.Record("<a>", text="{broken"), batch.Record("<b>", text="[1, 2]"), batch.Record("<c>", yaml=True, text="id: x")]
    assert [dealer.key(r) for r in records] == [None, None, None]
    assert [len(p) for p in dealer.deal(records)] == [2, 1]
    same = [INITIAL] * 40
    counts = [len(p) for p in dealer.deal([batch.Record(f"<{i}>", text=json.dumps(c)) for i, c in enumerate(same)])]
    assert min(counts) > 0 and max(dealer.dealt) <= 1.1 * sum(dealer.dealt) / 2 + 3  # bounded by BALANCE and the slack
    assert batch._Dealer(engine, batch.Options(cache=False), 2).paths == ()  # no cache, nothing to keep apart
