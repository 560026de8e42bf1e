"""Tests for the blob store: keys never become paths outside it, and files written through the
disk thread arrive whole, scanned and checked, or not at all."""

import hashlib
import os
import threading

import pytest

from profai.errors import InvalidInput, PayloadTooLarge
from profai.stores.blobs import LocalBlobStore, StoredBlob


@pytest.fixture
def blobs(tmp_path):
    return LocalBlobStore(tmp_path / "uploads")


def files_in(blobs: LocalBlobStore) -> list[str]:
    return sorted(str(p.relative_to(blobs.root)) for p in blobs.root.rglob("*") if p.is_file())


def save(blobs: LocalBlobStore, key: str, data: bytes, max_bytes: int, piece: int = 1 << 20, **options) -> StoredBlob:
    """Write data in pieces, as an upload does, and wait for the stored file."""
    check = options.pop("check", None)
    writer = blobs.writer(key, max_bytes, too_large_message="too big", **options)
    try:
        for start in range(0, len(data), piece):
            writer.write(data[start : start + piece])
    except BaseException:
        writer.discard().result(timeout=10)
        raise
    return writer.finish(check).result(timeout=30)


class Recorder:
    """A scan that keeps what it is fed, and refuses the file if asked to."""

    def __init__(self, refuse: bool = False):
        self.pieces: list[bytes] = []
        self.refuse = refuse

    def feed(self, piece: bytes) -> None:
        self.pieces.append(piece)

    def facts(self) -> dict:
        if self.refuse:
            raise InvalidInput("not a CSV", code="not_a_csv")
        return {"sha256": hashlib.sha256(b"".join(self.pieces)).hexdigest()}


@pytest.mark.parametrize("key", ["", "../x.pdf", "pdfs/../../x.pdf", "/etc/passwd", "pdfs//x.pdf", "pdfs/./x.pdf",
                                 "pdfs\\..\\x.pdf", "pdfs/x\x00.pdf", "pdfs/.."])
def test_keys_that_could_leave_the_store_are_refused(blobs, key):
    with pytest.raises(ValueError, match="escapes the store"):
        blobs.path(key)


def test_a_generated_key_is_a_file_inside_the_store(blobs):
    key = blobs.new_key("pdfs", ".pdf")
    assert blobs.path(key).parent == blobs.root / "pdfs" and key.endswith(".pdf")


def test_a_file_is_written_and_checked(blobs):
    data = os.urandom(3 * 1024 * 1024 + 17)  # several pieces and a ragged end
    seen = []
    stored = save(blobs, "pdfs/a.pdf", data, len(data),
                  check=lambda path: seen.append(path.read_bytes()) or {"pages": 7})
    assert stored.key == "pdfs/a.pdf" and stored.size == len(data)
    assert stored.facts == {"pages": 7}
    assert seen == [data]  # the check ran on the complete file
    assert blobs.path("pdfs/a.pdf").read_bytes() == data


def test_an_empty_file_is_stored_empty(blobs):
    stored = save(blobs, "pdfs/empty.pdf", b"", 10)
    assert stored.size == 0 and blobs.path("pdfs/empty.pdf").read_bytes() == b""


def test_a_file_past_the_limit_is_refused_and_removed(blobs):
    writer = blobs.writer("pdfs/big.pdf", 100, too_large_message="over the limit")
    writer.write(b"x" * 100)
    with pytest.raises(PayloadTooLarge, match="over the limit"):
        writer.write(b"x")  # refused on the caller's thread, at the first byte too many
    writer.discard().result(timeout=10)
    assert files_in(blobs) == []


def test_a_file_its_check_refuses_is_removed(blobs):
    def refuse(path):
        raise InvalidInput("not a PDF", code="not_a_pdf")

    with pytest.raises(InvalidInput) as err:
        save(blobs, "pdfs/bad.pdf", b"hello", 100, check=refuse)
    assert err.value.code == "not_a_pdf" and files_in(blobs) == []


def test_the_scan_is_fed_every_piece_in_order_then_its_facts_join_the_checks(blobs):
    data = os.urandom(100_003)
    scan = Recorder()
    stored = save(blobs, "csv/a.csv", data, len(data), piece=4096, scan=scan, check=lambda path: {"pages": 1})
    assert b"".join(scan.pieces) == data and len(scan.pieces) == 25  # each piece as written, none read back
    assert stored.facts == {"sha256": hashlib.sha256(data).hexdigest(), "pages": 1}


def test_a_file_its_scan_refuses_is_removed(blobs):
    with pytest.raises(InvalidInput) as err:
        save(blobs, "csv/bad.csv", b"hello", 100, scan=Recorder(refuse=True))
    assert err.value.code == "not_a_csv" and files_in(blobs) == []


def test_discard_after_finish_removes_the_stored_file(blobs):
    writer = blobs.writer("pdfs/kept.pdf", 100, too_large_message="too big")
    writer.write(b"bytes")
    writer.finish().result(timeout=10)
    writer.discard().result(timeout=10)  # an upload refused after its files were stored
    assert files_in(blobs) == []


def test_a_write_error_is_reported_by_finish(blobs):
    (blobs.root / "pdfs").write_text("a file where the folder should be")
    writer = blobs.writer("pdfs/a.pdf", 100, too_large_message="too big")
    writer.write(b"some bytes")
    with pytest.raises(OSError):
        writer.finish().result(timeout=10)
    assert files_in(blobs) == ["pdfs"]


def test_discard_removes_a_file_after_its_queued_writes(blobs):
    writer = blobs.writer("pdfs/gone.pdf", 10**9, too_large_message="too big")
    for _ in range(50):
        writer.write(b"y" * 65536)
    writer.discard().result(timeout=10)
    assert files_in(blobs) == []


def test_writers_on_many_threads_each_get_their_own_bytes_in_order(blobs):
    pieces = {n: [os.urandom(4096 + n) for _ in range(40)] for n in range(8)}
    results = {}

    def upload(n):
        writer = blobs.writer(f"pdfs/{n}.pdf", 10**9, too_large_message="too big")
        for piece in pieces[n]:
            writer.write(piece)
        results[n] = writer.finish().result(timeout=30)

    threads = [threading.Thread(target=upload, args=(n,)) for n in pieces]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, parts in pieces.items():
        data = b"".join(parts)
        assert blobs.path(f"pdfs/{n}.pdf").read_bytes() == data
        assert results[n].size == len(data)


def test_a_finish_nobody_waits_for_any_more_keeps_no_file_and_logs_nothing(blobs, caplog):
    """A request cancelled while its file was being checked cancels the future it awaited: the
    disk thread then drops the file quietly instead of failing to set a result (a traceback)."""
    gate = threading.Event()
    writer = blobs.writer("pdfs/late.pdf", 100, too_large_message="too big")
    writer.write(b"%PDF-1.7 data")
    done = writer.finish(lambda path: gate.wait(10) and {})  # hold the disk thread in the check
    held = blobs.writer("pdfs/next.pdf", 100, too_large_message="too big").finish()  # queued behind it
    assert held.cancel()  # not started yet: cancellable, as asyncio cancels a wrapped future
    gate.set()
    done.result(timeout=10)
    blobs.writer("pdfs/after.pdf", 100, too_large_message="too big").discard().result(timeout=10)  # drained
    assert "pdfs/next.pdf" not in files_in(blobs)
    assert not [r for r in caplog.records if r.exc_info]
