"""Embedded Chroma copied while another process writes to it, and collections exported and
imported through the client with their embeddings, documents and metadata intact."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from profai.stores.snapshot import CollectionDump, copy_embedded, export_collection, import_collection
from profai.stores.vectors import ChromaVectorStore, embedded_gate

BATCH = 40
DIM = 16
# Writes batch after batch of BATCH vectors into collection "live", printing each batch's number
# once it is written, until killed.
WRITER = f"""
import sys
import numpy as np
from profai.stores.vectors import ChromaVectorStore
store = ChromaVectorStore.embedded(__import__("pathlib").Path(sys.argv[1]))
rng = np.random.default_rng(0)
n = 0
while True:
    ids = [f"b{{n}}-{{i}}" for i in range({BATCH})]
    store.upsert("live", ids, rng.random(({BATCH}, {DIM})).tolist(), [f"text {{i}}" for i in ids],
                 [{{"batch": n}} for _ in ids])
    print(n, flush=True)
    n += 1
"""


def test_a_copy_taken_while_another_process_writes_holds_whole_writes(tmp_path):
    live = tmp_path / "chroma"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "0"  # at least one batch is in
        for k in range(15):  # copied naively, about one in fifteen copies fails to open
            copy = tmp_path / f"copy{k}"
            copy_embedded(live, copy)
            hits = ChromaVectorStore.embedded(copy).all("live")
            batches = {h.metadata["batch"] for h in hits}
            # Whole batches only, and every batch up to the last one written.
            assert len(hits) == BATCH * len(batches) and batches == set(range(len(batches))), sorted(batches)
    finally:
        writer.kill()
        writer.wait()


def test_writers_wait_while_a_snapshot_holds_the_gate(tmp_path):
    path = tmp_path / "chroma"
    store = ChromaVectorStore.embedded(path)
    store.upsert("col", ["a"], [[1.0, 0.0]], ["alpha"], [{}])
    done = threading.Event()
    with embedded_gate(path).paused(timeout=5):
        writing = threading.Thread(target=lambda: (store.upsert("col", ["b"], [[0.0, 1.0]], ["beta"], [{}]),
                                                   done.set()))
        writing.start()
        assert not done.wait(0.5)  # held up by the snapshot
    writing.join(10)
    assert done.is_set() and store.count("col") == 2


def test_export_then_import_keeps_every_field(tmp_path):
    source = ChromaVectorStore.embedded(tmp_path / "source")
    rng = np.random.default_rng(1)
    n = 2300  # more than two pages
    vectors = rng.standard_normal((n, 24)).astype(np.float32)
    ids = [f"id-{i}" for i in range(n)]
    metadatas = [{"page": i, "kind": "text" if i % 2 else "title", "bold": i % 3 == 0} if i % 5 else {}
                 for i in range(n)]
    source.upsert("course-x", ids, vectors.tolist(), [f"passage {i} — “é”" for i in range(n)], metadatas)

    dump = export_collection(source, "course-x", tmp_path / "dump")
    assert dump == CollectionDump("course-x", n, 24)
    target = ChromaVectorStore.embedded(tmp_path / "target")
    assert import_collection(target, dump, lambda name: (tmp_path / "dump" / name).open("rb")) == n

    got = target.client().get_collection("course-x").get(ids=ids, include=["embeddings", "documents", "metadatas"])
    order = {i: k for k, i in enumerate(got["ids"])}
    # Within a float32 rounding: in cosine space Chroma keeps vectors normalised and gives them back
    # scaled, itself a rounding off what was stored.
    assert np.allclose(np.asarray(got["embeddings"])[[order[i] for i in ids]], vectors, rtol=1e-6, atol=1e-6)
    assert [got["documents"][order[i]] for i in ids] == [f"passage {i} — “é”" for i in range(n)]
    assert [got["metadatas"][order[i]] or {} for i in ids] == metadatas
    # The same search answers the same way.
    query = vectors[7] + 0.01
    assert [h.id for h in target.query("course-x", query.tolist(), 5)] == \
        [h.id for h in source.query("course-x", query.tolist(), 5)]


def test_an_empty_store_copies(tmp_path: Path):
    live = tmp_path / "chroma"
    ChromaVectorStore.embedded(live).collections()  # makes the directory, no collection
    copy_embedded(live, tmp_path / "copy")
    assert ChromaVectorStore.embedded(tmp_path / "copy").collections() == []
    assert not list(live.parent.glob("copy/*.lock"))  # the gate's lock file stays beside the store
