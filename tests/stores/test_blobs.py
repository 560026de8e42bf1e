"""Tests for the blob store: keys never become paths outside it, and files written through the
disk thread arrive whole, hashed and checked, or not at all."""

import hashlib
import io
import os
import threading

import pytest

from profai.errors import InvalidInput, PayloadTooLarge
from profai.stores.blobs import LocalBlobStore, file_sha256


@pytest.fixture
def blobs(tmp_path):
    return LocalBlobStore(tmp_path / "uploads")


def files_in(blobs: LocalBlobStore) -> list[str]:
    return sorted(str(p.relative_to(blobs.root)) for p in blobs.root.rglob("*") if p.is_file())


@pytest.mark.parametrize("key", ["", "../x.pdf", "pdfs/../../x.pdf", "/etc/passwd", "pdfs//x.pdf", "pdfs/./x.pdf",
                                 "pdfs\\..\\x.pdf", "pdfs/x\x00.pdf", "pdfs/.."])
def test_keys_that_could_leave_the_store_are_refused(blobs, key):
    with pytest.raises(ValueError, match="escapes the store"):
        blobs.path(key)


def test_a_generated_key_is_a_file_inside_the_store(blobs):
    key = blobs.new_key("pdfs", ".pdf")
    assert blobs.path(key).parent == blobs.root / "pdfs" and key.endswith(".pdf")


def test_save_stream_writes_and_checks_the_file(blobs):
    data = os.urandom(3 * 1024 * 1024 + 17)  # several copy buffers and a ragged end
    seen = []
    stored = blobs.save_stream("pdfs/a.pdf", io.BytesIO(data), len(data), too_large_message="too big",
                               check=lambda path: seen.append(path.read_bytes()) or {"pages": 7})
    assert stored.key == "pdfs/a.pdf" and stored.size == len(data)
    assert stored.facts == {"pages": 7}
    assert seen == [data]  # the check ran on the complete file
    assert blobs.path("pdfs/a.pdf").read_bytes() == data
    assert file_sha256(blobs.path("pdfs/a.pdf")) == hashlib.sha256(data).hexdigest()


def test_an_empty_file_is_stored_empty(blobs):
    stored = blobs.save_stream("pdfs/empty.pdf", io.BytesIO(b""), 10, too_large_message="too big")
    assert stored.size == 0 and file_sha256(blobs.path("pdfs/empty.pdf")) == hashlib.sha256(b"").hexdigest()
    assert blobs.path("pdfs/empty.pdf").read_bytes() == b""


def test_a_file_past_the_limit_is_refused_and_removed(blobs):
    with pytest.raises(PayloadTooLarge, match="over the limit"):
        blobs.save_stream("pdfs/big.pdf", io.BytesIO(b"x" * 101), 100, too_large_message="over the limit")
    assert files_in(blobs) == []


def test_a_file_its_check_refuses_is_removed(blobs):
    def refuse(path):
        raise InvalidInput("not a PDF", code="not_a_pdf")

    with pytest.raises(InvalidInput) as err:
        blobs.save_stream("pdfs/bad.pdf", io.BytesIO(b"hello"), 100, too_large_message="too big", check=refuse)
    assert err.value.code == "not_a_pdf" and files_in(blobs) == []


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
