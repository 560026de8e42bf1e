"""Tests for embedded Chroma kept in a child process (so its GIL-holding writes never stall the API)."""

import multiprocessing
import os
import signal

import pytest
from fastapi.testclient import TestClient

from profai.api import create_app
from profai.stores.vector_process import VectorStoreProcess
from profai.stores.vectors import ChromaVectorStore, VectorHit
from profai.wiring import build_container
from stores.test_vectors import seed, unit
from support import ADMIN_HEADERS, make_settings, wait_until


@pytest.fixture
def store(tmp_path):
    s = VectorStoreProcess(tmp_path / "chroma")
    yield s
    s.close()


def test_calls_run_in_a_child_that_owns_the_store(store, tmp_path):
    before = {p.pid for p in multiprocessing.active_children()}
    seed(store)
    children = [p for p in multiprocessing.active_children() if p.pid not in before]
    assert len(children) == 1 and children[0].pid != os.getpid()
    assert store.count("course-1") == 3
    (hit,) = store.query("course-1", unit(1), top_k=1)
    assert isinstance(hit, VectorHit) and hit.id == "b" and hit.text == "beta"
    assert [h.id for h in store.get("course-1", ["c", "a"])] == ["c", "a"]
    assert {h.id for h in store.all("course-1")} == {"a", "b", "c"}
    store.delete("course-1", ids=["a"])
    assert store.count("course-1") == 2
    store.ping()
    # The files are Chroma's own: this process can read what the child wrote once the child is gone.
    store.close()
    assert ChromaVectorStore.embedded(tmp_path / "chroma").count("course-1") == 2


def test_errors_come_back_as_themselves(store):
    seed(store)
    with pytest.raises(ValueError, match="needs ids or where"):
        store.delete("course-1")


def test_a_killed_child_is_replaced_and_the_call_repeated(store):
    before = {p.pid for p in multiprocessing.active_children()}
    seed(store)
    (child,) = [p for p in multiprocessing.active_children() if p.pid not in before]
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert store.count("course-1") == 3  # nothing lost: the store is on disk
    store.drop("course-1")
    assert store.count("course-1") == 0


def test_embedded_chroma_gets_its_own_process_only_where_heavy_work_does(tmp_path):
    settings = make_settings(tmp_path / "data")
    for processes, kind in ((1, VectorStoreProcess), (0, ChromaVectorStore)):
        ctx = build_container(settings, runner="none", compute_processes=processes)
        try:
            assert isinstance(ctx.vectors, kind)
        finally:
            ctx.close()


def test_the_server_starts_the_child_at_start_up_not_at_the_first_call(tmp_path):
    ctx = build_container(make_settings(tmp_path / "data"), runner="none", compute_processes=1)
    before = {p.pid for p in multiprocessing.active_children()}
    try:
        with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS):
            wait_until(lambda: [p for p in multiprocessing.active_children() if p.pid not in before],
                       interval=0.1, message="a vector child after start-up")
            assert ctx.vectors.count("course-1") == 0  # served by the child already running
    finally:
        ctx.close()
