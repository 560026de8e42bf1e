"""Tests for the Chroma vector store, embedded in tmp_path and against a real server."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from profai.stores.vectors import ChromaVectorStore, VectorHit, build_where, collection_name

SRC = Path(__file__).resolve().parents[2] / "src"
VALID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")


def unit(i: int, dim: int = 8, tilt: float = 0.0) -> list[float]:
    v = [0.0] * dim
    v[i] = 1.0
    v[(i + 1) % dim] = tilt
    return v


def seed(store: ChromaVectorStore, name: str = "course-1") -> None:
    store.upsert(
        name,
        ids=["a", "b", "c"],
        vectors=[unit(0), unit(1), unit(2)],
        texts=["alpha", "beta", "gamma"],
        metadatas=[
            {"page": 1, "kind": "text", "note": None},
            {"page": 2, "kind": "text"},
            {"page": 3, "kind": "title", "bold": True, "weight": 0.5},
        ],
    )


@pytest.fixture
def store(tmp_path: Path) -> ChromaVectorStore:
    return ChromaVectorStore.embedded(tmp_path / "chroma")


def test_upsert_same_ids_twice_does_not_duplicate(store):
    seed(store)
    seed(store)
    assert store.count("course-1") == 3
    store.upsert("course-1", ["a"], [unit(0)], ["alpha v2"], [{"page": 9}])
    assert store.count("course-1") == 3
    # Replaced, not merged: Chroma alone would keep the old "kind" key.
    (hit,) = store.get("course-1", ["a"])
    assert hit.text == "alpha v2" and hit.metadata == {"page": 9}
    store.upsert("course-1", ["b"], [unit(1)], ["beta"], [{}])
    assert store.get("course-1", ["b"])[0].metadata == {}


def test_query_returns_nearest_with_cosine_score(store):
    seed(store)
    hits = store.query("course-1", unit(1, tilt=0.1), top_k=2)
    # c shares the 0.1 tilt component; a is orthogonal.
    assert [h.id for h in hits] == ["b", "c"]
    best = hits[0]
    assert best.text == "beta" and best.metadata == {"page": 2, "kind": "text"}
    # cos(e1 + 0.1 e2, e1) = 1 / sqrt(1.01)
    assert best.score == pytest.approx(1 / 1.01**0.5, abs=1e-3)
    assert hits[0].score >= hits[1].score
    # Scaling the query must not change cosine scores.
    scaled = store.query("course-1", [x * 7 for x in unit(1, tilt=0.1)], top_k=1)
    assert scaled[0].id == "b" and scaled[0].score == pytest.approx(best.score, abs=1e-3)


def test_query_where_filters_and_multi_key_is_anded(store):
    seed(store)
    hits = store.query("course-1", unit(0), top_k=5, where={"kind": "title"})
    assert [h.id for h in hits] == ["c"]
    hits = store.query("course-1", unit(0), top_k=5, where={"kind": "text", "page": {"$gte": 2}})
    assert [h.id for h in hits] == ["b"]
    assert store.query("course-1", unit(0), where={"kind": "none"}) == []


def test_build_where_wraps_several_keys():
    assert build_where(None) is None and build_where({}) is None
    assert build_where({"a": 1}) == {"a": 1}
    assert build_where({"a": 1, "b": 2}) == {"$and": [{"a": 1}, {"b": 2}]}


def test_get_keeps_order_and_omits_missing(store):
    seed(store)
    hits = store.get("course-1", ["c", "missing", "a"])
    assert [h.id for h in hits] == ["c", "a"]
    assert all(isinstance(h, VectorHit) and h.score == 1.0 for h in hits)
    assert hits[0].metadata == {"page": 3, "kind": "title", "bold": True, "weight": 0.5}


def test_all_returns_every_item_across_pages(store, monkeypatch):
    seed(store)
    store.upsert("course-1", ["d", "e"], [unit(3), unit(4)], ["delta", "epsilon"], [{"page": 4}, {}])
    monkeypatch.setattr(store, "_batch_size", lambda: 2)  # three pages of at most two items
    hits = store.all("course-1")
    assert sorted(h.id for h in hits) == ["a", "b", "c", "d", "e"]
    by_id = {h.id: h for h in hits}
    assert by_id["b"].text == "beta" and by_id["b"].metadata == {"page": 2, "kind": "text"}
    assert by_id["e"].metadata == {} and by_id["d"].metadata == {"page": 4}
    assert store.all("never-made") == []


def test_delete_by_ids_and_by_where(store):
    seed(store)
    store.delete("course-1", ids=["a"])
    assert store.count("course-1") == 2 and store.get("course-1", ["a"]) == []
    store.delete("course-1", where={"kind": "title"})
    assert [h.id for h in store.get("course-1", ["a", "b", "c"])] == ["b"]
    store.delete("missing-collection", ids=["x"])  # no error
    with pytest.raises(ValueError):
        store.delete("course-1")


def test_drop_and_missing_collection(store):
    assert store.count("never-made") == 0
    assert store.query("never-made", unit(0)) == []
    assert store.get("never-made", ["a"]) == []
    seed(store)
    store.drop("course-1")
    assert store.count("course-1") == 0
    store.drop("course-1")  # no error when missing
    seed(store)  # handle cache must not hold the dropped collection
    assert store.count("course-1") == 3


def test_nested_metadata_is_rejected(store):
    with pytest.raises(ValueError, match="tags"):
        store.upsert("course-1", ["a"], [unit(0)], ["alpha"], [{"tags": ["x", "y"]}])
    with pytest.raises(ValueError, match="same length"):
        store.upsert("course-1", ["a", "b"], [unit(0)], ["alpha"], [{}])


def test_empty_metadata_and_large_batches(store):
    n = 2500  # more than one upsert batch
    store.upsert(
        "big-one",
        [f"id{i}" for i in range(n)],
        [unit(i % 8, tilt=i / n) for i in range(n)],
        [f"t{i}" for i in range(n)],
        [{} if i % 2 else {"only": None} for i in range(n)],
    )
    assert store.count("big-one") == n
    assert store.get("big-one", ["id7"])[0].metadata == {}


@pytest.mark.parametrize(
    "parts",
    [
        ("a",),
        ("",),
        ("course", "12"),
        ("Cours é/ü?", "x y"),
        ("..leading", "trailing__"),
        ("x" * 1000,),
        ("a..b",),
        ("-", "-"),
    ],
)
def test_collection_name_is_valid_and_deterministic(parts, store):
    name = collection_name(*parts)
    assert VALID.match(name), name
    assert ".." not in name and len(name) <= 63
    assert collection_name(*parts) == name
    store.upsert(name, ["a"], [unit(0)], ["alpha"], [{"k": 1}])  # Chroma accepts it
    assert store.count(name) == 1


def test_collection_name_keeps_clean_names_and_separates_collisions():
    assert collection_name("course", "12", "chunks") == "course-12-chunks"
    assert collection_name("a b") != collection_name("a_b")
    assert collection_name("x" * 1000) != collection_name("x" * 999)


def test_persists_across_a_new_client(tmp_path):
    path = tmp_path / "chroma"
    seed(ChromaVectorStore.embedded(path))
    # A fresh process, so Chroma's per-path client cache cannot fake persistence.
    script = (
        "import sys; from pathlib import Path; from profai.stores.vectors import ChromaVectorStore as S;"
        "s = S.embedded(Path(sys.argv[1])); h = s.query('course-1', [0, 0, 1, 0, 0, 0, 0, 0], 1)[0];"
        "print(s.count('course-1'), h.id, h.text)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "c", "gamma"]


def test_ping_embedded(store, tmp_path):
    store.ping()
    assert (tmp_path / "chroma" / "chroma.sqlite3").is_file()  # it reached the backend: the database is open on disk


def test_server_round_trip(chroma_server_url):
    store = ChromaVectorStore.server(chroma_server_url)
    store.ping()
    name = collection_name("server", "test")
    store.drop(name)
    seed(store, name)
    seed(store, name)
    assert store.count(name) == 3
    hits = store.query(name, unit(2, tilt=0.05), top_k=2, where={"kind": "title", "page": 3})
    assert [h.id for h in hits] == ["c"] and hits[0].score > 0.99
    store.delete(name, ids=["a"])
    assert store.count(name) == 2
    store.drop(name)
    assert store.count(name) == 0


def test_server_ping_fails_when_unreachable():
    store = ChromaVectorStore.server("http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(ConnectionError):
        store.ping()
