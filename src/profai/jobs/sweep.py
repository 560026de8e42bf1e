"""The orphan sweep: vector collections, dataset vectors and uploaded files that belong to no job
or course, found and (with `fix`) removed.

What a failed or cancelled job wrote is removed by its clean-up (jobs/cleanup.py), which the
reaper runs again until it finishes. What slips past that - a course or dataset deleted while
the vector store was down, a crash between two steps - is found here by comparing the stores with
the database: by the reaper every ORPHAN_SWEEP_SECONDS, and by `profai doctor [--fix]`.

Kept: the collection and PDFs of every course, and of every course job that waits, runs or holds
a lease; a dataset's vectors, upload and part files while its dataset row or its job exists. The
stores are listed before the database is read, and jobs are read before courses, so a job that
finishes meanwhile is seen either running or with its course; each collection and dataset is
confirmed gone by a fresh read just before it is removed. Files younger than the grace are left
alone: an upload writes its file before its job exists. The sweep assumes that the vector store
and the upload folder are this deployment's alone (give another deployment its own Chroma
database or tenant).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from sqlalchemy.orm import Session

from profai.db import courses_repo, datasets_repo, jobs_repo
from profai.db.engine import session_scope
from profai.errors import InvalidInput
from profai.jobs.cleanup import clean_up
from profai.jobs.course_job import KIND as COURSE_KIND
from profai.jobs.dataset_job import KIND as DATASET_KIND
from profai.jobs.deps import JobDeps
from profai.pipelines.csv_to_vectors import DATASET_ID
from profai.pipelines.pdf_to_course import course_collection

log = logging.getLogger(__name__)

# Collections the sweep judges (pipelines: course_collection, dataset_collection); others are
# left as they are.
COURSE_PREFIX, DATASET_PREFIX = "course-", "dataset-"
# Folders of the blob store where uploads keep their files (services/uploads.py: "pdfs" and
# "datasets/uploads"; a dataset's part files under "datasets/<id>/"); the sweep looks nowhere else.
PDFS, DATASETS, DATASET_UPLOADS = "pdfs", "datasets", "uploads"
UNFINISHED = (jobs_repo.PENDING, *jobs_repo.RUNNING)
_PAGE = 100  # dataset vectors looked at per round


@dataclass
class Orphans:
    """What the sweep found (and, with fix, removed)."""

    collections: dict[str, int] = field(default_factory=dict)  # course collection -> its vectors
    dataset_vectors: dict[str, list[str]] = field(default_factory=dict)  # collection -> datasets gone
    files: dict[str, int] = field(default_factory=dict)  # blob key -> bytes
    unclean_jobs: list[str] = field(default_factory=list)  # failed or cancelled, clean-up unfinished

    @property
    def found(self) -> bool:
        return bool(self.collections or self.dataset_vectors or self.files or self.unclean_jobs)

    def summary(self) -> str:
        return (f"{len(self.collections)} collection(s), {sum(map(len, self.dataset_vectors.values()))} "
                f"deleted dataset(s) with vectors, {len(self.files)} file(s), "
                f"{len(self.unclean_jobs)} job(s) awaiting clean-up")


@dataclass
class _Kept:
    """What the database still uses, read once per sweep."""

    collections: set[str]
    keys: set[str]  # blob keys of uploads in use
    datasets: set[str]  # ids of datasets whose row or job exists

    @classmethod
    def read(cls, session: Session) -> _Kept:
        # Jobs before courses: see the module's docstring.
        course_jobs = jobs_repo.top_level(session, COURSE_KIND)
        dataset_jobs = jobs_repo.top_level(session, DATASET_KIND)
        courses = courses_repo.vector_refs(session)
        uploads = datasets_repo.blob_keys(session)
        with_course = {job_id for job_id, _ in courses if job_id}
        live = {job_id for job_id, status, owner, _ in course_jobs
                if status in UNFINISHED or owner or job_id in with_course}
        keys = {f["key"] for job_id, _, _, payload in course_jobs if job_id in live for f in payload.get("files", [])}
        keys |= set(uploads.values()) | {p["blob_key"] for _, _, _, p in dataset_jobs if p.get("blob_key")}
        return cls(collections={c for _, c in courses if c} | {course_collection(j) for j in live}, keys=keys,
                   datasets=set(uploads) | {job_id for job_id, *_ in dataset_jobs})

    def keeps(self, key: str) -> bool:
        top, _, rest = key.partition("/")
        dataset, _, _ = rest.partition("/")
        return key in self.keys or (top == DATASETS and dataset != DATASET_UPLOADS and dataset in self.datasets)


def sweep(deps: JobDeps, *, fix: bool, grace: float | None = None) -> Orphans:
    """Find what belongs to no job or course; with `fix`, remove it and run the clean-ups that have
    not finished. Files modified within `grace` seconds (default ORPHAN_GRACE_SECONDS) are left."""
    grace = deps.settings.orphan_grace_seconds if grace is None else grace
    if not (math.isfinite(grace) and grace >= 0):  # a negative grace would take uploads still arriving
        raise InvalidInput(f"The grace must be a number of seconds, 0 or more (not {grace})")
    names = deps.vectors.collections()
    files = _old_files(deps.blobs.root, grace)
    with session_scope(deps.sessions) as session:
        kept = _Kept.read(session)
        unclean = jobs_repo.awaiting_cleanup(session)
    found = Orphans(unclean_jobs=unclean)
    for name in names:
        job_id = _course_job(name)
        if job_id is not None and name not in kept.collections and _collection_gone(deps, name, job_id):
            found.collections[name] = deps.vectors.count(name)
            if fix:
                deps.vectors.drop(name)
        elif name.startswith(DATASET_PREFIX) and (gone := _datasets_gone(deps, name, kept.datasets, fix)):
            found.dataset_vectors[name] = gone
    for key, size in files.items():
        if not kept.keeps(key):
            found.files[key] = size
            if fix:
                deps.blobs.delete(key)
    if fix:
        _prune(deps, kept.datasets, grace)
        for job_id in unclean:
            clean_up(deps, job_id)
    return found


def _course_job(name: str) -> str | None:
    """The job id whose course collection this is, if it is one."""
    if not name.startswith(COURSE_PREFIX):
        return None
    try:
        job_id = str(uuid.UUID(name.removeprefix(COURSE_PREFIX)))
    except ValueError:
        return None
    return job_id if course_collection(job_id) == name else None


def _collection_gone(deps: JobDeps, name: str, job_id: str) -> bool:
    """A fresh look: no course searches the collection and its job neither runs nor holds a lease."""
    with session_scope(deps.sessions) as session:
        job = jobs_repo.get(session, job_id)
        if job is not None and (job.status in UNFINISHED or job.lease_owner):
            return False
        return not courses_repo.uses_collection(session, name)


def _datasets_gone(deps: JobDeps, collection: str, known: set[str], fix: bool) -> list[str]:
    """Datasets that left vectors in the collection but have neither a row nor a job any more."""
    known = set(known)
    gone: list[str] = []
    while True:
        # $nin needs a non-empty list; no dataset id is empty.
        hits = deps.vectors.find(collection, {DATASET_ID: {"$nin": sorted(known | set(gone)) or [""]}}, _PAGE)
        # Chroma's $nin also matches rows without the key: those are not a dataset's, and are left.
        ids = {str(h.metadata[DATASET_ID]) for h in hits if DATASET_ID in h.metadata}
        if not ids:
            return gone
        for dataset_id in sorted(ids):
            if _dataset_exists(deps, dataset_id):
                known.add(dataset_id)  # made after the sweep read the database
                continue
            gone.append(dataset_id)
            if fix:
                deps.vectors.delete(collection, where={DATASET_ID: dataset_id})


def _dataset_exists(deps: JobDeps, dataset_id: str) -> bool:
    with session_scope(deps.sessions) as session:
        return jobs_repo.get(session, dataset_id) is not None or datasets_repo.get(session, dataset_id) is not None


def _old_files(root: Path, grace: float) -> dict[str, int]:
    """Blob keys (and sizes) of the files in the swept folders not modified for `grace` seconds."""
    before = time.time() - grace
    out: dict[str, int] = {}
    for top in (PDFS, DATASETS):
        for path in sorted((root / top).rglob("*")):
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed meanwhile
                continue
            if S_ISREG(stat.st_mode) and stat.st_mtime <= before:  # the stat already says: no second one
                out[path.relative_to(root).as_posix()] = stat.st_size
    return out


def _prune(deps: JobDeps, known: set[str], grace: float) -> None:
    """Remove the folders of datasets that are gone once no file is left in them."""
    datasets = deps.blobs.root / DATASETS
    if not datasets.is_dir():
        return
    before = time.time() - grace
    for folder in datasets.iterdir():
        if folder.name in (DATASET_UPLOADS, *known) or not folder.is_dir() or folder.stat().st_mtime > before:
            continue
        if not any(p.is_file() for p in folder.rglob("*")) and not _dataset_exists(deps, folder.name):
            shutil.rmtree(folder, ignore_errors=True)


def report_lines(found: Orphans, *, fixed: bool = False) -> list[str]:
    """What the sweep found, a line each, for people (`profai doctor`, the reaper's log)."""
    done, ran = (": removed", ": clean-up run") if fixed else ("", "")
    lines = [f"collection {name}: {count} vectors of a course that no longer exists{done}"
             for name, count in found.collections.items()]
    lines += [f"collection {name}: vectors of deleted dataset {d}{done}" for name, ids in found.dataset_vectors.items()
              for d in ids]
    lines += [f"file {key}: {size:,} bytes that no job or course uses{done}" for key, size in found.files.items()]
    lines += [f"job {job_id}: failed or cancelled, its clean-up not finished{ran}" for job_id in found.unclean_jobs]
    return lines
