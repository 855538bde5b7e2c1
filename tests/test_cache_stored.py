"""The cache's derivation and proven parts kept on disk (engine/cache/stored.py): loaded, never trusted.

A second cache for the same KB reads the file instead of deriving, and decides
byte for byte as the plain path; a file that is stale, edited, truncated or
foreign is ignored and rebuilt; files are private; the store can be switched off.
"""

from __future__ import annotations

import json
import stat

import pytest

from conftest import KB_DIR
from test_cache import assert_same, both_ways, corpus
from lemtrada_asp.engine.cache import stored
import lemtrada_asp.engine.cache.memory as memory
from lemtrada_asp.engine.cache.derive import derive
from lemtrada_asp.engine.cache.memory import DecisionCache
from lemtrada_asp.engine.engine import Engine
from lemtrada_asp.engine.knowledge import KnowledgeBase


@pytest.fixture(scope="module")
def engine():
    return Engine(KnowledgeBase(KB_DIR))


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(stored.CACHE_DIR_ENV, str(tmp_path / "store"))
    return tmp_path / "store"


def counting_derive(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(memory, "derive", lambda kb: calls.append(kb) or derive(kb))
    return calls


def the_file(store):
    (found,) = store.glob("derivation-*.json")
    return found


def test_a_second_cache_loads_the_stored_derivation_and_parts_and_decides_the_same_bytes(engine, store, monkeypatch):
    calls = counting_derive(monkeypatch)
    cases = corpus(engine, 60, 60)
    first = both_ways(engine, cases)[2]
    assert len(calls) == 1 and first._structures
    proven = {k: v for k, v in first._structures.items()}
    second_plain, second_cached, second = both_ways(engine, cases)
    assert len(calls) == 1  # loaded, not derived again
    assert_same(second_plain, second_cached)
    assert second.derivation.groups == first.derivation.groups and second.derivation.hooks == first.derivation.hooks
    assert second.derivation.collapse == first.derivation.collapse and second.derivation.templates == first.derivation.templates
    assert {k: second._stored.structures[k] for k in proven} == proven  # the proofs came back equal


def test_the_stored_file_is_private_to_its_owner(engine, store):
    DecisionCache(engine)
    assert stat.S_IMODE(the_file(store).stat().st_mode) == 0o600
    assert stat.S_IMODE(store.stat().st_mode) == 0o700


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "other package version", "other format", "not json"])
def test_a_damaged_or_stale_file_is_ignored_and_rebuilt(engine, store, monkeypatch, damage):
    DecisionCache(engine)
    path = the_file(store)
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n")
    header = json.loads(head)
    if damage == "flipped byte":
        at = len(body) // 2
        raw = head + b"\n" + body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]
    elif damage == "truncated":
        raw = raw[: len(raw) // 2]
    elif damage == "other package version":
        raw = json.dumps({**header, "package": "0.0.0-other"}).encode() + b"\n" + body
    elif damage == "other format":
        raw = json.dumps({**header, "format": stored.FORMAT + 1}).encode() + b"\n" + body
    else:
        raw = b"{not json"
    path.write_bytes(raw)
    assert stored.load(engine.version) is None
    calls = counting_derive(monkeypatch)
    cache = DecisionCache(engine)
    assert len(calls) == 1 and cache.active
    assert stored.load(engine.version) is not None  # rewritten whole


def test_a_file_whose_checksum_matches_but_whose_body_names_code_is_refused(engine, store):
    DecisionCache(engine)
    path = the_file(store)
    head, _, _ = path.read_bytes().partition(b"\n")
    body = json.dumps({"derivation": {"c": "os.system", "v": {}}, "structures": {"d": []}}).encode()
    header = {**json.loads(head), "sha256": __import__("hashlib").sha256(body).hexdigest()}
    path.write_bytes(json.dumps(header).encode() + b"\n" + body)
    assert stored.load(engine.version) is None


def test_another_kb_version_reads_nothing_of_this_one(engine, store, tmp_path):
    DecisionCache(engine)
    edited = tmp_path / "kb"
    import shutil

    shutil.copytree(KB_DIR, edited)
    (edited / "extra.lp").write_text("% a comment changes the version\n")
    other = KnowledgeBase(edited)
    assert other.version != engine.version and stored.load(other.version) is None


def test_switched_off_nothing_is_written_and_the_cache_still_works(engine, tmp_path, monkeypatch):
    monkeypatch.setenv(stored.CACHE_DIR_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert stored.cache_dir() is None
    assert DecisionCache(engine).active
    assert not (tmp_path / "xdg").exists()


def test_the_default_folder_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.delenv(stored.CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert stored.cache_dir() == tmp_path / "xdg" / "lemtrada-asp"


def test_new_proofs_are_written_at_most_every_few_seconds_and_all_of_them_when_the_run_ends(engine, store, monkeypatch):
    """Each write encodes every proof kept: one write per new proof made a new KB's first check-kb
    quadratic (55 s of 64 in 148 writes). Writes are now spaced by SAVE_INTERVAL, and keep() at the
    end of a run writes what is left, so the next process still loads every proof."""
    writes: list[int] = []
    real = stored.save
    monkeypatch.setattr(stored, "save", lambda version, kept: writes.append(len(kept.structures)) or real(version, kept))
    monkeypatch.setattr(memory, "SAVE_INTERVAL", 3600.0)
    cache = DecisionCache(engine)
    for item in corpus(engine, 60, 60)[:120]:
        cache.decide([item])  # a chunk a case: each new value of the hooks is a new proof
    learnt = len(cache._stored.structures)
    assert learnt > 3 and len(writes) <= 2  # the derivation, and the first proofs: then none within the interval
    cache.keep()
    assert writes[-1] == learnt
    assert DecisionCache(engine)._stored.structures.keys() == cache._stored.structures.keys()
