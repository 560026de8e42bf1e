"""Small real documents for tests: PDFs made with reportlab, CSVs made with the csv module."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

# Three short chapters of real prose so that summaries and key terms have something to find.
BIOLOGY = [
    (
        "Photosynthesis",
        [
            "Photosynthesis is the process by which green plants convert light energy into chemical energy. "
            "It takes place in the chloroplasts, which contain the pigment chlorophyll. "
            "Chlorophyll absorbs red and blue light and reflects green light, which is why leaves look green.",
            "The light-dependent reactions happen in the thylakoid membranes. "
            "Water molecules are split, releasing oxygen as a by-product, and the energy is stored in ATP and NADPH. "
            "The Calvin cycle then uses ATP and NADPH to fix carbon dioxide into glucose in the stroma.",
            "The rate of photosynthesis depends on light intensity, carbon dioxide concentration and temperature. "
            "When one of these factors is in short supply it limits the rate, and it is called the limiting factor.",
        ],
    ),
    (
        "Cellular Respiration",
        [
            "Cellular respiration releases the energy stored in glucose so that cells can do work. "
            "Aerobic respiration needs oxygen and produces carbon dioxide, water and a large amount of ATP. "
            "It begins with glycolysis in the cytoplasm, where glucose is split into two molecules of pyruvate.",
            "Pyruvate enters the mitochondria, where the Krebs cycle releases carbon dioxide and loads electron carriers. "
            "The electron transport chain on the inner mitochondrial membrane uses those carriers to make most of the ATP. "
            "Oxygen is the final electron acceptor and combines with hydrogen to form water.",
            "Without oxygen, cells rely on anaerobic respiration or fermentation. "
            "Yeast ferments glucose into ethanol and carbon dioxide, while muscle cells produce lactic acid. "
            "Fermentation yields far less ATP than aerobic respiration.",
        ],
    ),
    (
        "Genetics",
        [
            "Genetics is the study of heredity, the passing of traits from parents to offspring. "
            "Gregor Mendel discovered the basic laws of inheritance by breeding pea plants. "
            "He showed that traits are controlled by discrete units, now called genes.",
            "Each gene can exist in different forms called alleles. "
            "A dominant allele masks the effect of a recessive allele when both are present. "
            "An organism with two identical alleles is homozygous, and one with two different alleles is heterozygous.",
            "Genes are made of DNA, a double helix of nucleotides paired by complementary bases. "
            "During meiosis, chromosomes are shuffled and halved, so every gamete carries a unique combination of alleles. "
            "Mutations change the DNA sequence and are the ultimate source of genetic variation.",
        ],
    ),
]


def make_pdf(
    path: Path,
    chapters: list[tuple[str, list[str]]] = BIOLOGY,
    *,
    outline: bool = True,
    headings: bool = True,
    repeat: int = 1,
    encrypt: str | None = None,
) -> Path:
    """Write a text PDF: one chapter per page (times `repeat`), optionally bookmarked."""
    c = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)
    width, height = A4
    for round_ in range(repeat):
        for number, (title, paragraphs) in enumerate(chapters, start=1):
            heading = title if repeat == 1 else f"{title} {round_ + 1}"
            key = f"ch{round_}-{number}"
            c.bookmarkPage(key)
            if outline:
                c.addOutlineEntry(heading, key, level=0)
            y = height - 72
            if headings:
                c.setFont("Helvetica-Bold", 18)
                c.drawString(72, y, heading)
                y -= 36
            c.setFont("Helvetica", 11)
            for paragraph in paragraphs:
                for line in _wrap(paragraph, 90):
                    if y < 72:
                        c.showPage()
                        c.setFont("Helvetica", 11)
                        y = height - 72
                    c.drawString(72, y, line)
                    y -= 15
                y -= 10
            c.showPage()
    c.save()
    return path


def make_blank_pdf(path: Path, pages: int = 2) -> Path:
    """A valid PDF with pages but no text (like a scan without OCR)."""
    c = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(pages):
        c.rect(100, 100, 200, 200, fill=1)
        c.showPage()
    c.save()
    return path


def make_scanned_pdf(path: Path, chapters: list[tuple[str, list[str]]] = BIOLOGY, *, scanned: set[int] | None = None,
                     dpi: int = 150, repeat: int = 1) -> Path:
    """`make_pdf`'s document (no outline) with the pages in `scanned` (1-based; all by default) replaced
    by pictures of themselves, as an office scanner makes them: a grey JPEG at `dpi`, no text layer."""
    source = pdfium.PdfDocument(make_pdf(path.with_name(path.stem + "-text.pdf"), chapters, outline=False,
                                         repeat=repeat))
    out = pdfium.PdfDocument.new()
    try:
        for index in range(len(source)):
            if scanned is not None and index + 1 not in scanned:
                out.import_pages(source, [index])
                continue
            page = source[index]
            image = page.render(scale=dpi / 72, grayscale=True).to_pil()
            _add_image_page(out, image, page.get_size())
        out.save(path)
    finally:
        out.close()
        source.close()
    return path


def make_image_pdf(path: Path, images: list[Image.Image], size: tuple[float, float] = A4) -> Path:
    """A PDF of one JPEG image a page, each stretched over a page of `size` points, and no text."""
    out = pdfium.PdfDocument.new()
    try:
        for image in images:
            _add_image_page(out, image, size)
        out.save(path)
    finally:
        out.close()
    return path


def _add_image_page(pdf: pdfium.PdfDocument, image: Image.Image, size: tuple[float, float]) -> None:
    width, height = size
    page = pdf.new_page(width, height)
    jpeg = io.BytesIO()
    image.save(jpeg, "JPEG", quality=75)
    jpeg.seek(0)
    picture = pdfium.PdfImage.new(pdf)
    picture.load_jpeg(jpeg, inline=True)
    picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(picture)
    page.gen_content()
    page.close()


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


# A course catalogue: topics with their own vocabulary, so a query about one finds rows of it.
TOPICS = {
    "astronomy": ("telescope", "galaxy", "nebula", "planet", "orbit", "comet", "star cluster", "eclipse"),
    "cooking": ("sourdough", "braise", "saucepan", "oven", "spice", "recipe", "knife skills", "pastry"),
    "gardening": ("compost", "seedling", "pruning", "soil", "greenhouse", "perennial", "irrigation", "mulch"),
    "finance": ("budget", "interest rate", "mortgage", "portfolio", "inflation", "dividend", "savings", "tax"),
    "music": ("chord", "melody", "rhythm", "guitar", "orchestra", "harmony", "tempo", "piano"),
}
_VERBS = ("explores", "introduces", "explains", "covers", "walks through", "demonstrates", "reviews")
_LEVELS = ("beginner", "intermediate", "advanced")


def catalogue_row(n: int, rng) -> dict[str, str]:
    """One realistic row: a title and a 30-60 word description about one topic."""
    topic = list(TOPICS)[n % len(TOPICS)]
    terms = TOPICS[topic]
    words = []
    while len(words) < rng.randint(30, 60):
        a, b = rng.sample(terms, 2)
        words += (f"This {rng.choice(_LEVELS)} lesson {rng.choice(_VERBS)} the {a} and how it relates to the {b}, "
                  f"with worked examples and a short exercise about {rng.choice(terms)}.").split()
    return {"id": f"row-{n}", "title": f"{terms[n % len(terms)].title()} {topic} lesson {n}",
            "description": " ".join(words[:60]), "topic": topic, "level": rng.choice(_LEVELS)}


def make_csv(path: Path, rows: int, *, seed: int = 7, encoding: str = "utf-8", extra: list[list[str]] = ()) -> Path:
    """A catalogue CSV (id,title,description,topic,level) of `rows` rows, plus `extra` raw rows."""
    import csv
    import random

    rng = random.Random(seed)
    with path.open("w", newline="", encoding=encoding) as f:
        out = csv.writer(f)
        out.writerow(["id", "title", "description", "topic", "level"])
        for n in range(rows):
            out.writerow(catalogue_row(n, rng).values())
        for row in extra:
            out.writerow(row)
    return path
