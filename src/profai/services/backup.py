"""`profai backup` and `profai restore`: everything a deployment holds in one zip file.

    manifest.json                      format and version, when, what is inside, schema revision
    database/profai.sqlite3            SQLite's online backup, or
    database/profai.pgdump             pg_dump's custom format
    vectors/<collection>/records.jsonl, embeddings.f32    every collection, through the client
    uploads/<key>                      the uploaded PDFs and CSVs (and a dataset's part files)
    audio/<xx>/<key>.{json,wav,mp3}    the lesson audio cache, with --with-audio

A backup runs beside a live server. The database is read first, in one transaction; the vectors
and files after it. So whatever the database knew of is in the archive: a course saved before the
snapshot had its passages and files already, and work after it adds at most vectors and files
that no row names (a job that was running then runs again after a restore, and its reruns
overwrite). The one change that could lose something is a deletion between the database snapshot
and the copy of the files: a vanished upload means a course or dataset went meanwhile, and the
backup starts over (at most ATTEMPTS times)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from profai.db import snapshot as db_snapshot
from profai.errors import Conflict, InvalidInput, ProfAIError, snippet, transient
from profai.settings import Settings
from profai.stores import snapshot as vector_snapshot
from profai.stores.blobs import key_parts
from profai.stores.vectors import ChromaVectorStore, chroma_store, collection_name, embedded_dir

FORMAT = "profai-backup"
FORMAT_VERSION = 1
ATTEMPTS = 3
# The data directory's layout, as wiring.build_container lays it out (embedded Chroma: embedded_dir).
UPLOADS, AUDIO = "uploads", "audio"
_MAX_MANIFEST = 16 * 1024 * 1024  # a few hundred bytes, and about 100 a collection
_DB_MEMBER = {"sqlite": "database/profai.sqlite3", "postgresql": "database/profai.pgdump"}

Report = Callable[[str], None]


class BackupFailed(ProfAIError):
    status_code = 500
    code = "backup_failed"


@dataclass
class _Files:
    bytes: int = 0
    copied: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return len(self.copied)

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.count, "bytes": self.bytes}


class _Restart(Exception):
    """Something was deleted while the backup ran: take it again."""


def backup(s: Settings, dest: Path, *, with_audio: bool = False, overwrite: bool = False,
           report: Report = lambda _: None) -> dict[str, Any]:
    """Write a snapshot of the deployment that `s` describes to `dest`; returns its manifest."""
    dest = dest.resolve()
    if dest.exists() and not overwrite:
        raise Conflict(f"{dest} already exists; choose another name or pass --force to replace it",
                       code="backup_exists")
    if not dest.parent.is_dir():
        raise InvalidInput(f"{dest.parent} is not a directory", code="bad_destination")
    for attempt in range(1, ATTEMPTS + 1):
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as tmp:
            partial = Path(tmp) / dest.name
            try:
                manifest = _write(s, partial, Path(tmp), with_audio, report)
            except _Restart as why:
                report(f"{why}: starting again ({attempt} of {ATTEMPTS})")
                continue
            os.replace(partial, dest)  # whole or not at all
            return manifest
    raise BackupFailed(f"files kept being deleted while the backup ran ({ATTEMPTS} attempts); run it again "
                       "when fewer courses and datasets are being removed", code="backup_unsteady")


def _write(s: Settings, path: Path, tmp: Path, with_audio: bool, report: Report) -> dict[str, Any]:
    uploads_root = s.data_dir / UPLOADS
    uploads_before = set(_files(uploads_root))  # before the database: see the module's docstring
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        database = _backup_database(s, zf, tmp)
        report(f"database: {database['backend']}, schema {database['schema_revision']}, "
               f"{_size(database['bytes'])}")
        vectors = _backup_vectors(s, zf, tmp)
        report(f"vectors: {len(vectors['collections'])} collections, "
               f"{sum(c['count'] for c in vectors['collections']):,} vectors ({vectors['source']})")
        uploads = _add_tree(zf, uploads_root, UPLOADS)
        if gone := uploads_before - uploads.copied:
            raise _Restart(f"{len(gone)} uploaded file(s) were deleted while the backup ran")
        report(f"uploads: {uploads.count} files, {_size(uploads.bytes)}")
        audio: dict[str, Any] = {"included": with_audio}
        if with_audio:
            tree = _add_tree(zf, s.data_dir / AUDIO, AUDIO)  # a cache: an entry evicted meanwhile is no loss
            audio |= tree.to_dict()
            report(f"audio: {tree.count} files, {_size(tree.bytes)}")
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "created_at": datetime.now(UTC).isoformat(),
            "profai_version": _version(), "database": database, "vectors": vectors,
            "uploads": uploads.to_dict(), "audio": audio,
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
    with path.open("rb") as f:
        os.fsync(f.fileno())
    return manifest


def _backup_database(s: Settings, zf: zipfile.ZipFile, tmp: Path) -> dict[str, Any]:
    file = tmp / "database"
    dumped = db_snapshot.dump(s.sqlalchemy_url, file)
    member = _DB_MEMBER[dumped.backend]
    # pg_dump's custom format is compressed already.
    zf.write(file, member, zipfile.ZIP_DEFLATED if dumped.backend == "sqlite" else zipfile.ZIP_STORED)
    size = file.stat().st_size
    file.unlink()
    return {"backend": dumped.backend, "schema_revision": dumped.revision, "file": member, "bytes": size}


def _backup_vectors(s: Settings, zf: zipfile.ZipFile, tmp: Path) -> dict[str, Any]:
    source = s.vector_backend
    with _vector_errors("read", s):
        if source == "embedded":
            live = embedded_dir(s)
            if not live.exists():
                return {"source": source, "collections": []}
            copy = tmp / "chroma"
            try:
                vector_snapshot.copy_embedded(live, copy)
            except (vector_snapshot.UnsteadyStore, TimeoutError) as exc:
                raise BackupFailed(f"the vector store did not hold still long enough to copy: {exc}",
                                   code="backup_unsteady") from None
            store = ChromaVectorStore.embedded(copy)
        else:
            store = chroma_store(s)
        dumps = []
        for name in store.collections():
            folder = tmp / "collection"
            dump = vector_snapshot.export_collection(store, name, folder)
            for member in (vector_snapshot.RECORDS, vector_snapshot.EMBEDDINGS):
                zf.write(folder / member, f"vectors/{name}/{member}",
                         zipfile.ZIP_DEFLATED if member == vector_snapshot.RECORDS else zipfile.ZIP_STORED)
            shutil.rmtree(folder)
            dumps.append(dump.to_dict())
    return {"source": source, "collections": dumps}


def _add_tree(zf: zipfile.ZipFile, root: Path, prefix: str) -> _Files:
    """Every file under root (not the dot-files of writes in progress) as prefix/<relative path>."""
    out = _Files()
    for rel in _files(root):
        try:
            zf.write(root / rel, f"{prefix}/{rel}", _compression(rel))
        except FileNotFoundError:  # deleted since it was listed
            continue
        out.copied.add(rel)
        out.bytes += zf.getinfo(f"{prefix}/{rel}").file_size
    return out


def _files(root: Path) -> Iterator[str]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not any(part.startswith(".") for part in rel.parts) and path.is_file():
            yield rel.as_posix()


def _compression(name: str) -> int:
    # PDFs and audio barely compress; CSVs and JSON do.
    return zipfile.ZIP_DEFLATED if name.endswith((".csv", ".json", ".jsonl", ".txt")) else zipfile.ZIP_STORED


# --- restore -----------------------------------------------------------------------------------


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of a backup file, checked to be one this ProfAI can restore."""
    with _open_archive(src) as zf:
        return _manifest(zf, src)


def restore(s: Settings, src: Path, *, force: bool = False, report: Report = lambda _: None) -> dict[str, Any]:
    """Restore a backup into the deployment `s` describes, which must hold no data unless `force`
    (then its database, vectors and uploads are replaced). Stop its servers and workers first."""
    with _open_archive(src) as zf:
        manifest = _manifest(zf, src)
        database = manifest["database"]
        s.data_dir.mkdir(parents=True, exist_ok=True)
        _check_members(zf, manifest, s.data_dir)
        db_snapshot.check_kind(database["backend"], s.sqlalchemy_url)
        if not db_snapshot.known_revision(database["schema_revision"]):
            raise InvalidInput(f"this backup's schema ({database['schema_revision']}) is newer than this "
                               "ProfAI knows: restore it with the version that made it "
                               f"({manifest.get('profai_version')}) or a later one", code="backup_too_new")
        uploads_root = s.data_dir / UPLOADS
        with _vector_errors("write to", s):
            store = chroma_store(s)
            held = [what for what, full in (
                (f"the database ({database['backend']})", db_snapshot.has_data(s.sqlalchemy_url)),
                (f"the vector store ({s.vector_backend})", bool(store.collections())),
                (f"uploads ({uploads_root})", any(True for _ in _files(uploads_root))),
            ) if full]
        if held and not force:
            raise Conflict(f"the target already holds data: {'; '.join(held)}. Restore into an empty data directory "
                           "and database, or pass --force to replace what is there", code="restore_target_not_empty")
        try:
            try:
                _load(s, zf, manifest, store, force, report)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # a member damaged, or inflating past its size
                raise InvalidInput(f"{src} is damaged: {exc}", code="bad_backup") from None
        except ProfAIError as exc:
            raise type(exc)(f"{exc.message}. The restore stopped part way: fix the cause and run it again with "
                            "--force", code=exc.code, status_code=exc.status_code) from None
    return manifest


def _load(s: Settings, zf: zipfile.ZipFile, manifest: dict[str, Any], store: ChromaVectorStore, force: bool,
          report: Report) -> None:
    database = manifest["database"]
    with tempfile.TemporaryDirectory(dir=s.data_dir) as tmp:
        file = Path(tmp) / "database"
        with zf.open(database["file"]) as packed, file.open("wb") as out:
            shutil.copyfileobj(packed, out, 1024 * 1024)
        db_snapshot.restore(s.sqlalchemy_url, file, database["backend"], replace=force)
    report(f"database: {database['backend']}, schema {database['schema_revision']}")

    with _vector_errors("write to", s):
        if force:
            for name in store.collections():
                store.drop(name)
        total = 0
        for dump in _dumps(manifest):
            if dump.count:
                total += vector_snapshot.import_collection(store, dump, _member_opener(zf, dump.name))
    report(f"vectors: {len(manifest['vectors']['collections'])} collections, {total:,} vectors ({s.vector_backend})")

    uploads_root = s.data_dir / UPLOADS
    if force:
        shutil.rmtree(uploads_root, ignore_errors=True)
    report(f"uploads: {_extract_tree(zf, UPLOADS, uploads_root)} files")
    if manifest["audio"]["included"]:
        report(f"audio: {_extract_tree(zf, AUDIO, s.data_dir / AUDIO)} files")


@contextmanager
def _open_archive(src: Path) -> Iterator[zipfile.ZipFile]:
    try:
        zf = zipfile.ZipFile(src)
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {src}", code="backup_not_found") from None
    except (zipfile.BadZipFile, IsADirectoryError, OSError):
        raise InvalidInput(f"{src} is not a ProfAI backup (not a zip archive, or cut short)", code="bad_backup") from None
    with zf:
        yield zf


def _manifest(zf: zipfile.ZipFile, src: Path) -> dict[str, Any]:
    try:
        if zf.getinfo("manifest.json").file_size > _MAX_MANIFEST:
            raise ValueError("manifest too large")
        manifest = json.loads(zf.read("manifest.json"))
    except (KeyError, ValueError):
        raise InvalidInput(f"{src} is not a ProfAI backup (no readable manifest)", code="bad_backup") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{src} is not a ProfAI backup", code="bad_backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(f"{src} is a version {manifest.get('format_version')} backup; this ProfAI reads "
                           f"version {FORMAT_VERSION}", code="backup_version")
    try:
        _check_manifest(manifest)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{src} has a damaged manifest ({type(exc).__name__}: {snippet(exc)})",
                           code="bad_backup") from None
    return manifest


def _check_manifest(manifest: dict[str, Any]) -> None:
    """Raises KeyError, TypeError or ValueError where the manifest is not one `backup` writes."""
    database = manifest["database"]
    if _DB_MEMBER.get(database["backend"]) != database["file"]:
        raise ValueError(f"database {database['backend']} in {database['file']}")
    if not isinstance(database["schema_revision"], str | None):
        raise TypeError("schema_revision")
    for entry in manifest["vectors"]["collections"]:
        name, count, dimension = entry["name"], entry["count"], entry["dimension"]
        if not isinstance(name, str) or collection_name(name) != name:
            raise ValueError(f"collection name {name}")
        if type(count) is not int or count < 0:
            raise ValueError(f"count {count} of {name}")
        if count and not (type(dimension) is int and 0 < dimension <= vector_snapshot.MAX_DIMENSION):
            raise ValueError(f"dimension {dimension} of {name}")
    if not isinstance(manifest["audio"]["included"], bool):
        raise TypeError("audio.included")


def _check_members(zf: zipfile.ZipFile, manifest: dict[str, Any], data_dir: Path) -> None:
    """Before anything is written: every member the manifest names is there, each collection's
    embeddings are as long as its records say, every file stays inside its folder, and all of it fits
    on the target's disk. zipfile never inflates a member past the size its entry declares (it stops
    there and fails the member's CRC), so the declared sizes bound what a restore writes, zip bombs
    included."""
    sizes = {info.filename: info.file_size for info in zf.infolist()}
    needed: dict[str, int | None] = {manifest["database"]["file"]: None}
    for dump in _dumps(manifest):
        if dump.count:
            folder = f"vectors/{dump.name}/"
            needed[folder + vector_snapshot.RECORDS] = None
            needed[folder + vector_snapshot.EMBEDDINGS] = dump.embeddings_size
    for member, size in needed.items():
        if member not in sizes or (size is not None and sizes[member] != size):
            raise InvalidInput(f"the backup's {member} is {'missing' if member not in sizes else 'of the wrong length'}",
                               code="bad_backup")
    for name in sizes:
        prefix, _, rel = name.partition("/")
        if prefix in (UPLOADS, AUDIO) and not name.endswith("/"):
            try:
                key_parts(rel)
            except ValueError:
                raise InvalidInput(f"the backup names a file outside its folder: {snippet(name)}",
                                   code="bad_backup") from None
    # Summed over every entry: a name may repeat, each copy written in turn.
    unpacked, free = sum(info.file_size for info in zf.infolist()), shutil.disk_usage(data_dir).free
    if unpacked > free:
        raise InvalidInput(f"the backup unpacks to {_size(unpacked)} and {data_dir} has {_size(free)} free",
                           code="backup_too_large")


def _dumps(manifest: dict[str, Any]) -> list[vector_snapshot.CollectionDump]:
    return [vector_snapshot.CollectionDump(e["name"], e["count"], e["dimension"])
            for e in manifest["vectors"]["collections"]]


def _member_opener(zf: zipfile.ZipFile, collection: str) -> vector_snapshot.Opener:
    def open_member(name: str) -> IO[bytes]:
        return zf.open(f"vectors/{collection}/{name}")

    return open_member


def _extract_tree(zf: zipfile.ZipFile, prefix: str, root: Path) -> int:
    """Write each member under prefix/ to the same relative name under root (the names were checked
    by _check_members)."""
    count = 0
    for info in zf.infolist():
        if not info.filename.startswith(prefix + "/") or info.is_dir():
            continue
        target = root.joinpath(*key_parts(info.filename[len(prefix) + 1:]))
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as packed, target.open("wb") as out:
            shutil.copyfileobj(packed, out, 1024 * 1024)
        count += 1
    return count


@contextmanager
def _vector_errors(doing: str, s: Settings) -> Iterator[None]:
    """Chroma's own exceptions become one clear error naming the store (their text stays out of it:
    it can carry request details)."""
    try:
        yield
    except (ProfAIError, zipfile.BadZipFile, zlib.error, EOFError):  # not the store's doing
        raise
    except Exception as exc:
        unreachable = transient(exc) is not None
        why = "it cannot be reached" if unreachable else f"{type(exc).__name__}"
        where = {"embedded": f"embedded Chroma in {embedded_dir(s)}", "server": f"the Chroma server {s.chroma_url}",
                 "cloud": f"Chroma Cloud database {s.chroma_cloud_tenant}/{s.chroma_cloud_database} at "
                          f"{s.chroma_cloud_url}"}[s.vector_backend]
        raise BackupFailed(f"could not {doing} {where}: {why}",
                           code="vectors_unreachable" if unreachable else "vectors_failed") from exc


def _version() -> str:
    try:
        return version("profai")
    except PackageNotFoundError:
        return "unknown"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"
