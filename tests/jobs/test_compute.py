"""The compute pool starts its processes with the runner, before any job, at a lower priority, and
they load the local model then; PDFs are read beside it, in watched processes that a runaway page
costs nothing else."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

import hostile
from factories import make_blank_pdf, make_pdf
from profai.errors import InvalidInput, PayloadTooLarge
from profai.ingest.pdf_limits import PdfLimits
from profai.pipelines.compute import ComputePool
from support import make_settings, wait_until


def test_start_spawns_every_process_before_any_job_and_they_lower_their_priority(tmp_path):
    pool = ComputePool(make_settings(tmp_path / "data"), processes=2)
    before = {p.pid for p in multiprocessing.active_children()}
    try:
        started = pool.start()  # each loads the local model: done once it has

        def both_niced() -> list[int] | None:
            new = [p.pid for p in multiprocessing.active_children() if p.pid not in before]
            niced = [pid for pid in new if os.getpriority(os.PRIO_PROCESS, pid) > os.getpriority(os.PRIO_PROCESS, 0)]
            return niced if len(niced) == 2 else None

        niced = wait_until(both_niced, interval=0.1, message="two new processes at a lower priority than this one")
        assert pool.call(os.getpid) in niced  # the work goes to them
        assert len(started) == 2 and {f.result(timeout=60) for f in started} <= set(niced)
    finally:
        pool.shutdown()


def _readers() -> list[int]:
    return [p.pid for p in multiprocessing.active_children() if p.name == "pdf-reader"]


def test_a_runaway_page_costs_its_reader_process_not_the_pool(tmp_path):
    """A page PDFium would read for a long time (one form of text drawn 10,000 times) is stopped
    from outside after PDF_PAGE_SECONDS; the compute pool's process lives on, and a new reader
    reads the next file."""
    s = make_settings(tmp_path / "data", PDF_PAGE_SECONDS=0.5, PDF_MEMORY_MB=16384)
    pool = ComputePool(s, processes=1)
    limits = PdfLimits.from_settings(s)
    try:
        worker = pool.call(os.getpid)
        with pytest.raises(InvalidInput) as err:
            list(pool.read_pdfs([(str(hostile.form_bomb(tmp_path / "bomb.pdf")), "bomb.pdf")], limits))
        assert err.value.code == "pdf_too_slow"
        assert err.value.message.startswith("Reading the PDF made no progress for 0.5 s (on its first page)")
        assert _readers() == []  # killed, and not kept
        assert pool.call(os.getpid) == worker
        [(doc, chunks)] = pool.read_pdfs([(str(make_pdf(tmp_path / "bio.pdf")), "bio.pdf")], limits)
        assert doc.filename == "bio.pdf" and len(doc.pages) == 3 and chunks
    finally:
        pool.shutdown()
    assert _readers() == []


def test_a_reader_growing_past_its_memory_limit_is_stopped(tmp_path):
    s = make_settings(tmp_path / "data", PDF_PAGE_SECONDS=120, PDF_MEMORY_MB=256)
    pool = ComputePool(s, processes=1)
    try:
        with pytest.raises(PayloadTooLarge) as err:
            list(pool.read_pdfs([(str(hostile.form_bomb(tmp_path / "bomb.pdf")), "bomb.pdf")],
                                PdfLimits.from_settings(s)))
        assert err.value.code == "pdf_too_large"
        assert "more than 256 MB of memory" in err.value.message
    finally:
        pool.shutdown()


def test_a_refused_file_leaves_its_reader_for_the_next(tmp_path):
    s = make_settings(tmp_path / "data")
    pool = ComputePool(s, processes=2)
    limits = PdfLimits.from_settings(s)
    files = [(str(make_pdf(tmp_path / f"{n}.pdf", repeat=n)), f"{n}.pdf") for n in (1, 2, 3)]
    try:
        assert [len(doc.pages) for doc, _ in pool.read_pdfs(files, limits)] == [3, 6, 9]  # in order
        readers = sorted(_readers())
        assert len(readers) == 2  # two at once, kept for the next reads
        with pytest.raises(InvalidInput) as err:
            list(pool.read_pdfs([(str(make_blank_pdf(tmp_path / "scan.pdf")), "scan.pdf")], limits))
        assert err.value.code == "no_text"
        assert sorted(_readers()) == readers
    finally:
        pool.shutdown()


@pytest.mark.slow
def test_a_long_document_is_not_mistaken_for_a_slow_one(tmp_path):
    """The reader reports progress while it cleans and chunks too: R's 2,400-page reference
    manual spends ~2 s there after its last page, well past a 1 s allowance per step."""
    manual = Path("/usr/share/R/doc/manual/fullrefman.pdf")
    if not manual.exists():
        pytest.skip("R's manuals are not installed")
    s = make_settings(tmp_path / "data", PDF_PAGE_SECONDS=1, MAX_PDF_PAGES=3000)
    pool = ComputePool(s, processes=1)
    try:
        [(doc, chunks)] = pool.read_pdfs([(str(manual), "fullrefman.pdf")], PdfLimits.from_settings(s))
        assert len(doc.pages) > 2000 and len(chunks) > 5000
    finally:
        pool.shutdown()
