"""Small hostile PDFs, written byte by byte: a text bomb, a file claiming 20,000 pages, damaged
page trees, a page drawing one form of text thousands of times. Each is a valid PDF apart from
what it is built to do, so a reader that refuses it refuses it for that reason."""

from __future__ import annotations

import zlib
from pathlib import Path

FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
LINE = b"BT /F1 11 Tf 72 %d Td (%s) Tj ET\n"
SENTENCES = [b"Photosynthesis turns light energy into chemical energy in the chloroplasts.",
             b"The Calvin cycle fixes carbon dioxide into glucose using ATP and NADPH."]


def build(objects: list[bytes]) -> bytes:
    """A PDF of `objects` (numbered from 1; object 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(pieces: list[bytes] | bytes, *, compress: bool = True, extra: bytes = b"") -> bytes:
    """A stream object; `pieces` are compressed one by one, so a bomb never exists uncompressed."""
    pieces = [pieces] if isinstance(pieces, bytes) else pieces
    if compress:
        packer = zlib.compressobj(9)
        data = b"".join(packer.compress(piece) for piece in pieces) + packer.flush()
        extra += b" /Filter /FlateDecode"
    else:
        data = b"".join(pieces)
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def page(contents: int, parent: int = 2, xobjects: bytes = b"") -> bytes:
    return (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> %s>> "
            b"/Contents %d 0 R >>" % (parent, xobjects, contents))


def text(lines: list[bytes] = SENTENCES) -> bytes:
    return b"".join(LINE % (720 - 20 * n, line) for n, line in enumerate(lines))


def one_page(content: bytes, *more: bytes, xobjects: bytes = b"") -> bytes:
    """Catalog, pages, font, the page (object 4) and its content (object 5), then `more`."""
    return build([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT,
                  page(5, xobjects=xobjects), content, *more])


def readable(path: Path) -> Path:
    """A good one-page PDF in this style, for comparison."""
    path.write_bytes(one_page(stream(text())))
    return path


def text_bomb(path: Path, megabytes: int = 300) -> Path:
    """One page whose content stream inflates to `megabytes` of text operators; the file is ~1/300 of it."""
    unit = b"BT /F1 11 Tf 72 720 Td (All work and no play makes a dull page) Tj ET\n"
    block = unit * (1024 * 1024 // len(unit))
    path.write_bytes(one_page(stream([text()] + [block] * megabytes)))
    return path


def many_pages(path: Path, count: int) -> Path:
    """`count` real pages sharing one content stream (~160 bytes a page)."""
    kids = b" ".join(b"%d 0 R" % (5 + n) for n in range(count))
    pages = [page(4) for _ in range(count)]
    path.write_bytes(build([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>"
                            % (kids, count), FONT, stream(text()), *pages]))
    return path


def broken_tree(path: Path, how: str) -> Path:
    """Two pages claimed, the second unreadable: `missing` (its object does not exist), `not_a_page`
    (it is a number), `count` (/Count says 2, the tree holds 1), `no_pages` (the catalog has no /Pages)."""
    catalog = b"<< /Type /Catalog >>" if how == "no_pages" else b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = {"missing": b"[4 0 R 40 0 R]", "not_a_page": b"[4 0 R 6 0 R]"}.get(how, b"[4 0 R]")
    path.write_bytes(build([catalog, b"<< /Type /Pages /Kids %s /Count 2 >>" % kids, FONT, page(5),
                            stream(text()), b"42"]))
    return path


def form_bomb(path: Path, draws: int = 10_000, chars: int = 3000) -> Path:
    """A 10 KB page drawing one form of `chars` characters `draws` times: PDFium builds the text
    of every drawing (30 M characters, several GB, by default)."""
    form_content = b"BT /F1 1 Tf 0 0 Td (" + b"A" * chars + b") Tj ET"
    form = stream(form_content, compress=False,
                  extra=b" /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>")
    content = b"".join(b"q 1 0 0 1 0 %d cm /Fm1 Do Q\n" % (n % 700) for n in range(draws))
    path.write_bytes(one_page(stream(text() + content), form, xobjects=b"/XObject << /Fm1 6 0 R >> "))
    return path


def crowded_page(path: Path, objects: int) -> Path:
    """One page of `objects` separate text objects (small words side by side)."""
    content = b"BT /F1 1 Tf 10 700 Td " + b"(word) Tj " * objects + b"ET\n"
    path.write_bytes(one_page(stream(text() + content)))
    return path
