"""Backup and restore, case by case, on a deployment built in this process: the audio cache,
--force, a deletion during the backup, and the files and targets a restore must refuse."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import make_pdf
from profai.api import create_app
from profai.errors import Conflict, InvalidInput, ProfAIError
from profai.services import backup as backups
from profai.services import courses as course_service
from profai.settings import Settings
from profai.wiring import build_container
from support import ADMIN_HEADERS, make_settings, upload_course


def _deploy(root: Path, **overrides: str) -> Settings:
    """A deployment with one course, its lesson audio cached, built through the API."""
    settings = make_settings(root / "data", COMPUTE_PROCESSES=0, **overrides)
    ctx = build_container(settings, compute_processes=0)
    ctx.runner.start()
    try:
        with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
            upload_course(client, make_pdf(root / "biology.pdf"), "Biology")
            assert client.post("/api/tts", json={"text": "Photosynthesis makes glucose."}).status_code == 200
    finally:
        ctx.close()
    return settings


def _state(settings: Settings) -> dict:
    """The deployment's courses, each with its vector count, and its cached audio files."""
    from profai.domain import CLI

    ctx = build_container(settings, runner="none", compute_processes=0)
    try:
        rows, _ = course_service.list_courses(ctx, CLI)
        courses = {course.title: ctx.vectors.count(course.collection or "") for course, _, _ in rows}
    finally:
        ctx.close()
    audio = settings.data_dir / "audio"
    return {"courses": courses,
            "audio": sorted(p.relative_to(audio).as_posix() for p in audio.rglob("*") if p.is_file())}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Settings:
    return _deploy(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def archive(source, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("archive") / "backup.zip"
    backups.backup(source, path, with_audio=True)
    return path


def test_audio_comes_back_and_force_replaces_rather_than_adds(source, archive, tmp_path):
    expected = _state(source)
    assert expected["courses"]["Biology"] > 0 and any(a.endswith(".wav") for a in expected["audio"])
    manifest = backups.read_manifest(archive)
    assert manifest["audio"]["included"] and manifest["audio"]["files"] == len(expected["audio"])

    target = make_settings(tmp_path / "target")
    lines: list[str] = []
    backups.restore(target, archive, report=lines.append)
    assert _state(target) == expected
    assert any(line.startswith("audio: ") for line in lines)

    with pytest.raises(Conflict) as refused:
        backups.restore(target, archive)
    assert refused.value.code == "restore_target_not_empty" and "--force" in refused.value.message
    backups.restore(target, archive, force=True)
    assert _state(target) == expected  # one course, as many vectors: replaced, not added to

    # Without --with-audio there is no audio in the backup; the cache is no conflict for a restore.
    bare = tmp_path / "bare.zip"
    backups.backup(source, bare)
    assert backups.read_manifest(bare)["audio"] == {"included": False}
    with zipfile.ZipFile(bare) as zf:
        assert not any(name.startswith("audio/") for name in zf.namelist())


def test_an_upload_deleted_during_the_backup_makes_it_start_again(source, tmp_path):
    """A deletion between the database snapshot and the copy of the files (a course removed meanwhile)
    would leave rows naming files the archive lacks: the backup notices and takes it again."""
    doomed = source.data_dir / "uploads" / "pdfs" / "doomed.pdf"
    doomed.write_bytes(b"%PDF-1.4 removed while the backup runs")
    lines: list[str] = []

    def report(line: str) -> None:
        lines.append(line)
        if line.startswith("vectors: "):  # after the database, before the files
            doomed.unlink(missing_ok=True)

    manifest = backups.backup(source, tmp_path / "again.zip", report=report)
    assert sum("deleted while the backup ran: starting again (1 of 3)" in line for line in lines) == 1
    assert sum(line.startswith("database: ") for line in lines) == 2
    with zipfile.ZipFile(tmp_path / "again.zip") as zf:
        assert "uploads/pdfs/doomed.pdf" not in zf.namelist()
    assert manifest["uploads"]["files"] == 1


def test_backup_refuses_to_overwrite_a_file(source, archive):
    with pytest.raises(Conflict) as refused:
        backups.backup(source, archive)
    assert refused.value.code == "backup_exists"


def _rewritten(archive: Path, dest: Path, **changes) -> Path:
    """A copy of the archive with its manifest changed."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(dest, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "manifest.json":
                manifest = json.loads(data)
                for key, value in changes.items():
                    section, _, field = key.partition("__")
                    if field:
                        manifest[section][field] = value
                    else:
                        manifest[section] = value
                data = json.dumps(manifest).encode()
            out.writestr(info, data)
    return dest


def _added(archive: Path, dest: Path, name: str, data: bytes, *, declared: int | None = None) -> Path:
    """A copy of the archive with one more member, its size in the zip's directory `declared` (a lie,
    as a zip bomb's is) if given."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr(name, data)
        if declared is not None:
            out.getinfo(name).file_size = declared  # the central directory is written from it on close
    return dest


def _collections(archive: Path, **changes) -> list[dict]:
    return [{**c, **changes} for c in backups.read_manifest(archive)["vectors"]["collections"]]


@pytest.mark.parametrize(("make", "code"), [
    (lambda archive, tmp: tmp / "missing.zip", "backup_not_found"),
    (lambda archive, tmp: (tmp / "notes.zip").write_text("not a zip") and tmp / "notes.zip", "bad_backup"),
    (lambda archive, tmp: archive.with_name(archive.name[:-4] + "-cut.zip").write_bytes(
        archive.read_bytes()[: archive.stat().st_size // 2]) and archive.with_name(archive.name[:-4] + "-cut.zip"),
     "bad_backup"),
    (lambda archive, tmp: _rewritten(archive, tmp / "v2.zip", format_version=2), "backup_version"),
    (lambda archive, tmp: _rewritten(archive, tmp / "other.zip", format="something-else"), "bad_backup"),
    (lambda archive, tmp: _rewritten(archive, tmp / "newer.zip", database__schema_revision="9999"), "backup_too_new"),
    # Hostile archives: names that climb out of their folder, sizes no disk holds, a manifest that
    # does not match its members.
    (lambda archive, tmp: _added(archive, tmp / "escape.zip", "uploads/../../escape.pdf", b"%PDF-1.4"), "bad_backup"),
    (lambda archive, tmp: _added(archive, tmp / "abs.zip", "audio//etc/passwd", b"root"), "bad_backup"),
    (lambda archive, tmp: _added(archive, tmp / "bomb.zip", "uploads/pdfs/bomb.pdf", b"0" * 1000, declared=2**50),
     "backup_too_large"),
    (lambda archive, tmp: _rewritten(archive, tmp / "kind.zip", database__backend="mysql"), "bad_backup"),
    (lambda archive, tmp: _rewritten(archive, tmp / "wide.zip", vectors__collections=_collections(
        archive, dimension=10**9)), "bad_backup"),
    (lambda archive, tmp: _rewritten(archive, tmp / "more.zip", vectors__collections=_collections(
        archive, count=10**6)), "bad_backup"),
])
def test_restore_refuses_what_it_cannot_restore_and_writes_nothing(archive, tmp_path, make, code):
    target = make_settings(tmp_path / "target")
    with pytest.raises(InvalidInput) as refused:
        backups.restore(target, make(archive, tmp_path))
    assert refused.value.code == code
    assert not (target.data_dir / "profai.sqlite3").exists() and not (target.data_dir / "uploads").exists()


def test_a_member_that_inflates_past_its_declared_size_stops_there(archive, tmp_path):
    """A zip bomb whose entry understates its size: zipfile inflates no more than the entry says and
    fails the member's check, so the restore writes at most the declared bytes and stops."""
    bomb = _added(archive, tmp_path / "bomb.zip", "uploads/pdfs/bomb.csv", b"0" * 10_000_000, declared=1000)
    target = make_settings(tmp_path / "target")
    with pytest.raises(InvalidInput) as refused:
        backups.restore(target, bomb)
    assert refused.value.code == "bad_backup" and "stopped part way" in refused.value.message
    written = target.data_dir / "uploads" / "pdfs" / "bomb.csv"
    assert not written.exists() or written.stat().st_size <= 1000


@pytest.mark.services
def test_a_sqlite_backup_is_not_restored_into_postgresql(archive, tmp_path, pg_databases):
    target = make_settings(tmp_path / "target", DATABASE_URL=pg_databases())
    with pytest.raises(ProfAIError) as refused:
        backups.restore(target, archive)
    assert refused.value.code == "database_kind_mismatch"
    assert "SQLite" in refused.value.message and "PostgreSQL" in refused.value.message


@pytest.mark.services
def test_postgresql_restore_and_force(tmp_path, pg_databases):
    source = _deploy(tmp_path / "source", DATABASE_URL=pg_databases())
    path = tmp_path / "pg.zip"
    backups.backup(source, path)
    assert backups.read_manifest(path)["database"]["backend"] == "postgresql"
    target = make_settings(tmp_path / "target", DATABASE_URL=pg_databases())
    backups.restore(target, path)
    expected = {**_state(source), "audio": []}  # the cache was left out
    assert _state(target) == expected
    with pytest.raises(Conflict):
        backups.restore(target, path)
    backups.restore(target, path, force=True)
    assert _state(target) == expected
