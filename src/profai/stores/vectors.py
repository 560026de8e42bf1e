"""Vector store: the VectorStore protocol and its Chroma backend (embedded or server)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from operator import methodcaller
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from profai.settings import Settings
from profai.stores.write_gate import WriteGate

T = TypeVar("T")

# Chroma allows 512 characters; 63 keeps names valid on older servers and readable in logs.
_MAX_NAME = 63
_DEFAULT_BATCH = 1000
_INVALID = re.compile(r"[^a-zA-Z0-9._-]+")
_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class VectorHit:
    """One stored vector's id, cosine similarity (higher is better), text and metadata."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any]


class VectorStore(Protocol):
    """Collections of vectors with text and flat metadata, searched by cosine similarity."""

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None: ...

    def query(
        self, collection: str, vector: Sequence[float], top_k: int = 5, where: dict[str, Any] | None = None
    ) -> list[VectorHit]: ...

    def get(self, collection: str, ids: Sequence[str]) -> list[VectorHit]: ...

    def all(self, collection: str) -> list[VectorHit]: ...

    def count(self, collection: str) -> int: ...

    def find(self, collection: str, where: dict[str, Any], limit: int = 1) -> list[VectorHit]: ...

    def delete(
        self, collection: str, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None
    ) -> None: ...

    def drop(self, collection: str) -> None: ...

    def collections(self) -> list[str]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def embedded_dir(s: Settings) -> Path:
    """Where embedded Chroma keeps its files: the data directory's chroma/."""
    return s.data_dir / "chroma"


def chroma_store(s: Settings) -> ChromaVectorStore:
    """The store the settings name, in this process: Chroma Cloud (USE_CHROMA_CLOUD), a Chroma server
    (CHROMA_URL), else embedded Chroma under the data directory."""
    if s.vector_backend == "cloud":
        # Settings has checked that the key, tenant and database are all set.
        assert s.chroma_cloud_api_key and s.chroma_cloud_tenant and s.chroma_cloud_database
        return ChromaVectorStore.cloud(s.chroma_cloud_api_key, s.chroma_cloud_tenant, s.chroma_cloud_database,
                                       s.chroma_cloud_url)
    if s.vector_backend == "server":
        assert s.chroma_url
        return ChromaVectorStore.server(s.chroma_url)
    return ChromaVectorStore.embedded(embedded_dir(s))


def embedded_gate(path: Path) -> WriteGate:
    """The lock file beside an embedded store's directory that its writers share."""
    return WriteGate(path.with_name(path.name + ".lock"))


def collection_name(*parts: str) -> str:
    """Build a valid Chroma collection name from parts, deterministically."""
    raw = "-".join(parts)
    name = _INVALID.sub("_", raw)
    name = re.sub(r"\.{2,}", ".", name).strip("._-")
    if name == raw and 3 <= len(name) <= _MAX_NAME:
        return name
    # Sanitising can map different inputs to one name; the hash keeps them apart.
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    head = name[: _MAX_NAME - len(digest) - 1].rstrip("._-")
    return f"{head}-{digest}" if head else digest


def clean_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """Drop None values and reject values Chroma cannot store; None when nothing is left."""
    cleaned: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        if value is None:
            continue
        if not isinstance(key, str):
            raise ValueError(f"metadata key {key!r} must be a string")
        if not isinstance(value, _SCALARS):
            raise ValueError(
                f"metadata value for {key!r} must be str, int, float or bool, "
                f"not {type(value).__name__}"
            )
        cleaned[key] = value
    # Chroma rejects an empty dict but accepts None.
    return cleaned or None


def build_where(where: dict[str, Any] | None) -> dict[str, Any] | None:
    """Turn a several-key filter into Chroma's explicit {"$and": [...]} form."""
    if not where:
        return None
    if len(where) == 1:
        return where
    return {"$and": [{key: value} for key, value in where.items()]}


def _replace(
    col: Any,
    ids: list[str],
    vectors: Sequence[Sequence[float]],
    texts: list[str],
    metadatas: list[dict[str, Any] | None],
) -> None:
    """Upsert so each id ends with exactly the given metadata."""
    # Chroma's upsert merges metadata into the old row; a key set to None is removed,
    # so keys the new metadata lacks are nulled. This keeps the write a single upsert.
    old = col.get(ids=ids, include=["metadatas"])
    previous = {i: m for i, m in zip(old["ids"], old["metadatas"], strict=True) if m}
    merged: list[dict[str, Any] | None] = []
    for item_id, metadata in zip(ids, metadatas, strict=True):
        stale = set(previous.get(item_id, {})) - set(metadata or {})
        merged.append({**(metadata or {}), **dict.fromkeys(stale)} if stale else metadata)
    col.upsert(
        ids=ids,
        embeddings=[[float(x) for x in v] for v in vectors],
        documents=texts,
        metadatas=merged,
    )


class ChromaVectorStore:
    """VectorStore on Chroma; collections use cosine space and are created on first upsert."""

    def __init__(self, connect: Callable[[], Any], gate: WriteGate | None = None) -> None:
        # The client is made on first use so a down server fails calls, not start-up.
        self._connect = connect
        self._client: Any = None
        self._handles: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Embedded only: writes hold it shared, so a backup can pause them (stores/snapshot.py).
        self._gate = gate

    @classmethod
    def embedded(cls, path: Path) -> ChromaVectorStore:
        """A store in a local directory (chromadb.PersistentClient)."""
        import chromadb
        from chromadb.config import Settings

        return cls(
            lambda: chromadb.PersistentClient(
                path=str(path), settings=Settings(anonymized_telemetry=False)
            ),
            embedded_gate(path),
        )

    @classmethod
    def server(cls, url: str, *, tenant: str | None = None, database: str | None = None,
               headers: dict[str, str] | None = None) -> ChromaVectorStore:
        """A store on a Chroma server at "http://host:port" (its default tenant and database
        unless given)."""
        import chromadb
        from chromadb.config import DEFAULT_DATABASE, DEFAULT_TENANT, Settings

        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            raise ValueError(f"Chroma URL must look like http://host:port, got {url!r}")
        ssl = parts.scheme == "https"
        port = parts.port or (443 if ssl else 8000)
        return cls(
            lambda: chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                headers=headers,
                tenant=tenant or DEFAULT_TENANT,
                database=database or DEFAULT_DATABASE,
                settings=Settings(anonymized_telemetry=False),
            )
        )

    @classmethod
    def cloud(cls, api_key: str, tenant: str, database: str, url: str) -> ChromaVectorStore:
        """A store in a Chroma Cloud database: the key goes in the X-Chroma-Token header, as
        chromadb.CloudClient sends it. Tenant and database are named, not inferred from the key
        (CloudClient's inference answers "default_tenant" on a plain server, so it could not be
        pointed at one)."""
        return cls.server(url, tenant=tenant, database=database, headers={"X-Chroma-Token": api_key})

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Insert or replace vectors by id, in batches the backend accepts."""
        if not (len(ids) == len(vectors) == len(texts) == len(metadatas)):
            raise ValueError("ids, vectors, texts and metadatas must have the same length")
        if not ids:
            return
        cleaned = [clean_metadata(m) for m in metadatas]
        size = self._batch_size()
        for start in range(0, len(ids), size):
            batch = slice(start, start + size)
            # partial binds the batch: a lambda closing over loop variables cannot be typed by mypy.
            with self._writing():
                self._with_collection(
                    collection,
                    True,
                    partial(_replace, ids=list(ids[batch]), vectors=vectors[batch], texts=list(texts[batch]),
                            metadatas=cleaned[batch]),
                )

    def query(
        self, collection: str, vector: Sequence[float], top_k: int = 5, where: dict[str, Any] | None = None
    ) -> list[VectorHit]:
        """Return up to top_k nearest vectors, best first; [] if the collection is missing."""
        result = self._with_collection(
            collection,
            False,
            lambda col: col.query(
                query_embeddings=[list(map(float, vector))],
                n_results=top_k,
                where=build_where(where),
                include=["documents", "metadatas", "distances"],
            ),
        )
        if result is None:
            return []
        return [
            VectorHit(id=i, score=1.0 - float(d), text=t or "", metadata=dict(m or {}))
            for i, t, m, d in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]

    def get(self, collection: str, ids: Sequence[str]) -> list[VectorHit]:
        """Return the stored items for ids, in the order asked; missing ids are left out."""
        if not ids:
            return []
        result = self._with_collection(
            collection,
            False,
            lambda col: col.get(ids=list(ids), include=["documents", "metadatas"]),
        )
        if result is None:
            return []
        found = {
            i: VectorHit(id=i, score=1.0, text=t or "", metadata=dict(m or {}))
            for i, t, m in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        }
        return [found[i] for i in ids if i in found]

    def all(self, collection: str) -> list[VectorHit]:
        """Every stored item's id, text and metadata (no vectors); [] if the collection is missing."""
        out: list[VectorHit] = []
        size = self._batch_size()
        while True:
            # Paged, so a large collection never becomes one huge response or SQL statement.
            result = self._with_collection(
                collection,
                False,
                methodcaller("get", include=["documents", "metadatas"], limit=size, offset=len(out)),
            )
            if result is None:
                return out
            out.extend(
                VectorHit(id=i, score=1.0, text=t or "", metadata=dict(m or {}))
                for i, t, m in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
            )
            if len(result["ids"]) < size:
                return out

    def count(self, collection: str) -> int:
        """Number of vectors in the collection; 0 if it does not exist."""
        return self._with_collection(collection, False, lambda col: col.count()) or 0

    def find(self, collection: str, where: dict[str, Any], limit: int = 1) -> list[VectorHit]:
        """Up to `limit` stored items whose metadata match `where` (no vectors); [] if the
        collection is missing."""
        result = self._with_collection(
            collection, False, methodcaller("get", where=build_where(where), limit=limit,
                                            include=["documents", "metadatas"]))
        if result is None:
            return []
        return [VectorHit(id=i, score=1.0, text=t or "", metadata=dict(m or {}))
                for i, t, m in zip(result["ids"], result["documents"], result["metadatas"], strict=True)]

    def delete(
        self, collection: str, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None
    ) -> None:
        """Delete by ids and/or filter; a missing collection is a no-op."""
        if ids is None and not where:
            raise ValueError("delete needs ids or where; use drop() to remove a collection")
        if ids is not None and not ids and not where:
            return
        with self._writing():
            self._with_collection(
                collection,
                False,
                lambda col: col.delete(ids=list(ids) if ids else None, where=build_where(where)),
            )

    def drop(self, collection: str) -> None:
        """Remove the collection and everything in it; no error if it is missing."""
        from chromadb.errors import NotFoundError

        with self._lock:
            self._handles.pop(collection, None)
        with contextlib.suppress(NotFoundError), self._writing():
            self._get_client().delete_collection(collection)

    def collections(self) -> list[str]:
        """The names of every collection in the store, sorted."""
        return sorted(c.name for c in self._get_client().list_collections())

    def client(self) -> Any:
        """The chromadb client itself, for whole-store work (backups read collections with their
        embeddings, which VectorHit leaves out)."""
        return self._get_client()

    def ping(self) -> None:
        """Raise ConnectionError if the backend cannot be reached."""
        try:
            self._get_client().heartbeat()
        except Exception as exc:
            # chromadb reports a down server as ValueError; callers want one clear type.
            raise ConnectionError(f"Chroma is unreachable: {exc}") from exc

    def close(self) -> None:
        """Nothing to release: the client closes with the process."""

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        return self._gate.writing() if self._gate is not None else contextlib.nullcontext()

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _batch_size(self) -> int:
        try:
            return max(1, min(_DEFAULT_BATCH, int(self._get_client().get_max_batch_size())))
        except (AttributeError, TypeError, ValueError):
            return _DEFAULT_BATCH

    def _handle(self, name: str, create: bool) -> Any:
        """A cached collection handle; None if missing and create is False."""
        from chromadb.errors import NotFoundError

        client = self._get_client()
        with self._lock:
            handle = self._handles.get(name)
            if handle is not None:
                return handle
            if create:
                handle = client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
            else:
                try:
                    handle = client.get_collection(name, embedding_function=None)
                except NotFoundError:
                    return None
            self._handles[name] = handle
            return handle

    def _with_collection(self, name: str, create: bool, call: Callable[[Any], T]) -> T | None:
        """Run call on the collection, retrying once if a cached handle went stale."""
        from chromadb.errors import NotFoundError

        for attempt in range(2):
            handle = self._handle(name, create)
            if handle is None:
                return None
            try:
                return call(handle)
            except NotFoundError:
                # Another process dropped (and maybe recreated) it since we cached the handle.
                with self._lock:
                    self._handles.pop(name, None)
                if attempt:
                    raise
        return None
