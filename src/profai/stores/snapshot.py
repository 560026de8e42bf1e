"""Vector store snapshots for `profai backup` / `profai restore`.

Every collection is exported through the Chroma client: ids, embeddings (float32), documents and
metadatas, in pages. The export does not depend on where the vectors live, so a backup of
embedded Chroma restores into a Chroma server or Chroma Cloud, and back.

Embedded Chroma is read from a copy of its directory, never from the directory a server writes:
the copy is taken with the store's writers paused (stores.write_gate, held by every
ChromaVectorStore.embedded write) and kept only if no file changed while it was taken, which also
covers the `chroma run` child that `profai serve` starts for several API processes. A Chroma
server or Chroma Cloud is read through its own client, collection by collection."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from profai.stores.vectors import ChromaVectorStore, embedded_gate

RECORDS = "records.jsonl"  # one {"id", "document", "metadata"} a line, in the order of the embeddings
EMBEDDINGS = "embeddings.f32"  # little-endian float32, `dimension` per vector
_PAGE = 1000
_FLOAT = np.dtype("<f4")
# What an import reads of a backup at most: a vector's width (hosted models stay under 4,096) and
# one record's line (a passage and its metadata are a few KB).
MAX_DIMENSION = 65_536
_MAX_RECORD = 16 * 1024 * 1024

Opener = Callable[[str], IO[bytes]]  # a file of the exported collection, by its name (RECORDS, EMBEDDINGS)


@dataclass(frozen=True)
class CollectionDump:
    name: str
    count: int
    dimension: int | None  # None when the collection is empty

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count, "dimension": self.dimension}

    @property
    def embeddings_size(self) -> int:
        """The length of its EMBEDDINGS file."""
        return self.count * (self.dimension or 0) * _FLOAT.itemsize


class UnsteadyStore(Exception):
    """The embedded store kept changing (or its writers did not pause) while it was copied."""


def copy_embedded(src: Path, dest: Path, *, attempts: int = 20, pause_timeout: float = 60) -> None:
    """Copy an embedded Chroma directory as it stands between two writes."""
    gate = embedded_gate(src)
    for attempt in range(attempts):
        shutil.rmtree(dest, ignore_errors=True)  # a copy that changed as it was taken; before the pause
        with gate.paused(pause_timeout):
            try:
                before = _signature(src)
                # SQLite's shared-memory index is rebuilt from its -wal by whoever opens the copy.
                shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*-shm"))
                steady = _signature(src) == before
            except (shutil.Error, FileNotFoundError):  # a journal came and went: a write ran
                steady = False
        if steady:
            return
        time.sleep(min(0.05 * 2**attempt, 1.0))  # a writer that does not take the gate (a Chroma server)
    raise UnsteadyStore(f"{src} changed during each of {attempts} copies")


def _signature(root: Path) -> dict[str, tuple[int, int, int]]:
    """Each file's size, modification and change times: any write changes one of them."""
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.name.endswith("-shm"):
            st = path.stat()
            out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return out


def export_collection(store: ChromaVectorStore, name: str, folder: Path) -> CollectionDump:
    """Write one collection's records and embeddings into `folder`; pages by offset, and an id that
    a write moved into a later page (a live server) is written once."""
    col = store.client().get_collection(name, embedding_function=None)
    seen: set[str] = set()
    dimension: int | None = None
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / RECORDS).open("wb") as records, (folder / EMBEDDINGS).open("wb") as embeddings:
        offset = 0
        while True:
            page = col.get(include=["embeddings", "documents", "metadatas"], limit=_PAGE, offset=offset)
            ids = page["ids"]
            vectors = np.asarray(page["embeddings"], dtype=_FLOAT).reshape(len(ids), -1) if ids else None
            for row, item_id in enumerate(ids):
                if item_id in seen:
                    continue
                seen.add(item_id)
                assert vectors is not None
                if dimension is None:
                    dimension = vectors.shape[1]
                records.write(json.dumps({"id": item_id, "document": page["documents"][row],
                                          "metadata": page["metadatas"][row]}, ensure_ascii=False).encode() + b"\n")
                embeddings.write(vectors[row].tobytes())
            offset += len(ids)
            if len(ids) < _PAGE:
                break
    return CollectionDump(name, len(seen), dimension)


def import_collection(store: ChromaVectorStore, dump: CollectionDump, open_in: Opener) -> int:
    """Load an exported collection into the store (upserts: loading twice changes nothing)."""
    done = 0
    with open_in(RECORDS) as records, open_in(EMBEDDINGS) as embeddings:
        for batch in _batches(records):
            assert dump.dimension is not None  # a collection with records has a dimension
            raw = embeddings.read(len(batch) * dump.dimension * _FLOAT.itemsize)
            vectors = np.frombuffer(raw, dtype=_FLOAT)
            if vectors.size != len(batch) * dump.dimension:
                raise ValueError(f"collection {dump.name}: the embeddings end before the records do")
            store.upsert(dump.name, [r["id"] for r in batch], vectors.reshape(len(batch), dump.dimension).tolist(),
                         [r["document"] or "" for r in batch], [r["metadata"] or {} for r in batch])
            done += len(batch)
    if done != dump.count:
        raise ValueError(f"collection {dump.name}: {done} records where the manifest says {dump.count}")
    return done


def _batches(records: IO[bytes]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    while line := records.readline(_MAX_RECORD + 1):
        if len(line) > _MAX_RECORD:
            raise ValueError(f"a record is longer than {_MAX_RECORD:,} bytes")
        batch.append(json.loads(line))
        if len(batch) == _PAGE:
            yield batch
            batch = []
    if batch:
        yield batch
