"""Executors: shards put back together, a Dask cluster (even one that loses a worker), PySpark.

The Dask tests start their own LocalCluster of worker processes on 127.0.0.1
and stop it; they are skipped when dask.distributed is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from conftest import INITIAL, vary
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.engine.batch import decide_paths
from lemtrada_asp.engine.engine import Engine
from lemtrada_asp.engine.executors import Run, merge_shards, parse_shard, spark_partition
from lemtrada_asp.engine.knowledge import KbRef, KnowledgeBase

CHUNK = 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("executors") / "corpus.jsonl"
    lines = [json.dumps(c) for c in generate_cases(380, 21)]
    lines.insert(57, "{broken")  # an unreadable line keeps its place in every executor
    lines.append(json.dumps(vary(INITIAL, {"id": "dup"})))
    lines.append(json.dumps(vary(INITIAL, {"id": "dup"})))
    path.write_text("\n".join(lines) + "\n")
    return path


def lines(results) -> list[str]:
    return [json.dumps(r.decision if r.ok else r.error, ensure_ascii=False) for r in results]


@pytest.fixture(scope="module")
def alone(corpus):
    return lines(decide_paths([str(corpus)], chunk=CHUNK, jobs=1))


def test_shards_concatenated_a_chunk_at_a_time_are_the_whole_run(corpus, alone):
    shards = [lines(decide_paths([str(corpus)], chunk=CHUNK, run=Run(shard=(i, 3)))) for i in range(3)]
    assert sum(map(len, shards)) == len(alone)
    assert list(merge_shards(shards, chunk=CHUNK)) == alone
    assert shards[1][:CHUNK] == alone[CHUNK : 2 * CHUNK]


def test_shard_arguments_are_checked():
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=50
    ) as cluster:
        yield cluster


@pytest.mark.slow
def test_a_dask_cluster_decides_like_one_process(corpus, alone, cluster):
    results = lines(decide_paths([str(corpus)], chunk=CHUNK, jobs=2, run=Run("dask", cluster.scheduler_address)))
    assert results == alone


@pytest.mark.slow
def test_a_dask_cluster_decides_under_an_overlay_like_one_process(corpus, alone, cluster):
    changed = KbRef(None, [Path(__file__).parent / "fixtures" / "overlays" / "interval-11-months"])
    expected = lines(decide_paths([str(corpus)], engine=Engine(KnowledgeBase(changed)), chunk=CHUNK, jobs=1))
    assert expected != alone  # the overlay changes some decisions: the workers must load it to agree
    run = Run("dask", cluster.scheduler_address)
    assert lines(decide_paths([str(corpus)], engine=Engine(KnowledgeBase(changed)), chunk=CHUNK, jobs=2, run=run)) == expected


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(corpus, alone, cluster):
    from dask.distributed import Client

    stream = decide_paths([str(corpus)], chunk=CHUNK, jobs=2, run=Run("dask", cluster.scheduler_address))
    got = lines(next(stream) for _ in range(3 * CHUNK))
    with Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        got += lines(stream)
        deadline = time.time() + 20
        while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:  # the nanny restarts it
            time.sleep(0.2)
    assert got == alone
    assert victim not in client_pids(cluster)


def client_pids(cluster) -> set[int]:
    from dask.distributed import Client

    with Client(cluster.scheduler_address) as client:
        return set(client.run(os.getpid).values())


def test_the_pyspark_recipe_decides_like_one_process(corpus, alone):
    pyspark = pytest.importorskip("pyspark")
    spark = pyspark.sql.SparkSession.builder.master("local[2]").appName("lemtrada-asp").getOrCreate()
    try:
        rdd = spark.sparkContext.textFile(str(corpus), minPartitions=3)
        decided = rdd.mapPartitions(spark_partition()).collect()
    finally:
        spark.stop()
    strip = lambda line: {k: v for k, v in json.loads(line).items() if k not in ("source", "problems")}  # noqa: E731
    expected = [strip(line) for line in alone[:-1]]  # the duplicate id is caught within a run, not across partitions
    assert [strip(line) for line in decided[:-1]] == expected


def test_the_partition_function_keeps_line_order():
    run = spark_partition(chunk=7)
    cases = [json.dumps(c) for c in generate_cases(30, 4)]
    out = [json.loads(line) for line in run(iter(cases))]
    assert [d["case_id"] for d in out] == [json.loads(c)["id"] for c in cases]
