"""The letter PDFs as a reader sees them: text extracted with pypdf, positions, metadata, bytes, the QR code."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream
from stdnum.nl import bsn as stdnum_bsn

from integrations.letters.qr import qr_matrix
from integrations.letters.render import (
    FONT_DIR_ENV,
    AddressDoesNotFit,
    FontsMissing,
    font_dir,
    render_pdf,
    warm_up,
    window_rect,
)
from schulden.letters.content import LETTER_TYPES, Address, DebtLine, LetterContent
from schulden.letters.templates import render_text
from tests.unit.test_letter_templates import BSN, NAME, full_fields

ROOT = Path(__file__).resolve().parents[2]
REPLY_URL = "https://schuldroute.example/antwoord/Zk3mQ9xT2vL8pR4wN7bY1cH6"
REPLY_CODE = "K7QM-4TXD-9P"
TABLE_LETTERS = ("L1", "L2", "L4", "L8")  # the texts with [[schuldenoverzicht]]


def letter(letter_type: str = "L1", **fields: Any) -> LetterContent:
    return LetterContent(
        letter_type=letter_type,
        letter_id=123,
        our_reference="SR-000123-45",
        their_reference="CJIB-2026-55501",
        date=date(2026, 11, 28),
        sender=Address(("Stichting Schuldroute", "Team Noord", "Postbus 123", "8000 AB  ZWOLLE")),
        sender_contact=("Mw. A. de Boer", "038 123 45 67", "a.deboer@schuldroute.example"),
        recipient=Address(
            ("Centraal Justitieel Incassobureau", "t.a.v. Incasso", "Postbus 1794", "8901 CB  LEEUWARDEN")
        ),
        fields=full_fields(**fields),
        debts=(DebtLine("CJIB", "123456789012", "CJIB-boete", 123456, 0, 1000, "confirmed"),),
        attachments=("Machtiging en toestemmingsverklaring (getekend)", "Detentieverklaring"),
        reply_code=REPLY_CODE,
        reply_url=REPLY_URL,
        signature=("Mw. A. de Boer", "Schuldhulpverlener"),
    )


def reader(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in reader(pdf).pages]


def flat(text: str) -> str:
    """Whitespace (line breaks from wrapping, no-break spaces) as single spaces."""
    return re.sub(r"\s+", " ", text.replace("\xa0", " "))


def pdf_text(pdf: bytes) -> str:
    return flat(" ".join(page_texts(pdf)))


def without_bsn(content: LetterContent) -> LetterContent:
    return replace(content, fields={k: v for k, v in content.fields.items() if k != "bsn"})


@pytest.mark.parametrize("letter_type", LETTER_TYPES)
def test_each_letter_shows_its_required_fields(letter_type: str) -> None:
    content = letter(letter_type)
    text = pdf_text(render_pdf(content))
    assert NAME in text
    assert "Ĳ" in text
    assert content.our_reference in text
    assert "CJIB-2026-55501" in text
    assert "28 november 2026" in text
    assert flat(render_text(content).subject) in text
    assert "Centraal Justitieel Incassobureau" in text
    assert "Stichting Schuldroute" in text
    assert "Bijlagen • Machtiging en toestemmingsverklaring (getekend) • Detentieverklaring" in text
    if letter_type in TABLE_LETTERS:
        assert "€ 1.234,56 € 0,00 € 10,00 € 1.244,56 bevestigd" in text
        assert "Totaal € 1.234,56" in text


def test_the_debt_table_has_dutch_amounts_a_status_per_row_and_a_total() -> None:
    debts = (
        DebtLine("CJIB", "B-1", "CJIB-boete", 123456, 0, 1000, "estimated"),
        DebtLine("Woonstichting", None, "Huurachterstand", 98000, 1234, 4000, "disputed"),
    )
    text = pdf_text(render_pdf(replace(letter("L8"), debts=debts)))
    assert "Schuldeiser Kenmerk Omschrijving Hoofdsom Rente Kosten Totaal Status" in text
    assert "€ 1.234,56 € 0,00 € 10,00 € 1.244,56 geschat" in text
    assert "€ 980,00 € 12,34 € 40,00 € 1.032,34 betwist" in text
    assert "Totaal € 2.214,56 € 12,34 € 50,00 € 2.276,90" in text


def test_the_same_content_gives_the_same_bytes() -> None:
    one, other = letter("L1"), letter("L9")
    first = render_pdf(one)
    render_pdf(other)  # nothing of another letter stays behind
    assert render_pdf(one) == first
    assert render_pdf(replace(one, date=date(2026, 11, 29))) != first


def test_the_same_content_gives_the_same_bytes_in_another_process() -> None:
    here = hashlib.sha256(render_pdf(letter("L4"))).hexdigest()
    script = (
        "import hashlib; from integrations.letters.render import render_pdf; "
        "from tests.unit.test_letter_render import letter; "
        "print(hashlib.sha256(render_pdf(letter('L4'))).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4321"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == here


def test_threads_render_the_same_bytes_as_one_thread() -> None:
    contents = [letter(t) for t in ("L1", "L2", "L8", "L9")] * 3
    serial = [render_pdf(c) for c in contents]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(render_pdf, contents))
    assert parallel == serial


def test_metadata_names_the_letter_the_sender_and_the_subject() -> None:
    content = letter("L2")
    meta = reader(render_pdf(content)).metadata
    assert meta is not None
    assert meta.title == "Verzoek om een saldo-opgave \u2013 SR-000123-45"
    assert meta.author == "Stichting Schuldroute"
    assert meta.subject == render_text(content).subject
    assert meta["/CreationDate"].startswith("D:20261128")


def _valid_bsns(text: str) -> list[str]:
    return [n for n in re.findall(r"(?<!\d)\d{9}(?!\d)", text) if stdnum_bsn.is_valid(n)]


@pytest.mark.parametrize("letter_type", LETTER_TYPES)
def test_no_bsn_in_the_pdf_when_the_recipient_may_not_have_it(letter_type: str) -> None:
    text = pdf_text(render_pdf(without_bsn(letter(letter_type))))
    assert BSN not in text
    assert _valid_bsns(text) == []
    assert "BSN" not in text


@pytest.mark.parametrize("letter_type", ["L1", "L6", "L7", "L8", "L9"])
def test_the_bsn_is_in_the_pdf_when_given(letter_type: str) -> None:
    assert _valid_bsns(pdf_text(render_pdf(letter(letter_type)))) == [BSN]


MARKUP = '<font color="red">Jan</font> <img src="x"/> <a href="http://x.example">klik</a> &amp; <b>'


def test_reportlab_markup_in_user_text_prints_literally_and_adds_no_link_or_image() -> None:
    content = replace(
        letter("L1", client_name=MARKUP, collector_for='<a href="http://evil.example">X</a>'),
        # Short enough for the envelope window (a longer line is an error there, not a cut-off line).
        recipient=Address(('<b>Jan</b> <font color="red">&amp;</font>', "Postbus 1", "1000 AA  AMSTERDAM")),
        debts=(DebtLine(MARKUP, "<br/>", "<para>", 100, 0, 0, "estimated"),),
        attachments=(MARKUP,),
        signature=(MARKUP,),
    )
    pdf = render_pdf(content)
    text = pdf_text(pdf)
    assert text.count(flat(MARKUP)) >= 5  # greeting, facts, window, table, attachments, signature, subject
    assert '<a href="http://evil.example">X</a>' in text
    assert '<b>Jan</b> <font color="red">&amp;</font>' in text
    assert "<br/>" in text
    assert "<para>" in text
    for page in reader(pdf).pages:
        assert "/Annots" not in page
        assert list(page.images) == []
    assert b"/URI" not in pdf
    assert b"/Link" not in pdf


def test_a_long_letter_numbers_its_pages() -> None:
    debts = tuple(
        DebtLine(f"Schuldeiser {n}", f"K-{n:04d}", "Telefoonabonnement", 10_000 + n, 250, 4000, "estimated")
        for n in range(40)
    )
    pdf = render_pdf(replace(letter("L8"), debts=debts))
    texts = page_texts(pdf)
    total = len(texts)
    assert total >= 3
    for number, text in enumerate(texts, start=1):
        assert f"Pagina {number} van {total}" in text
        # Our reference (one per client and debt) with the letter's type and number: each page names its letter.
        assert "SR-000123-45 · L8 versie" in text
        assert "· brief 123" in text
    assert "Schuldeiser 39" in flat(" ".join(texts))
    # The header row repeats on every page the table runs over.
    assert sum("Hoofdsom" in t for t in texts) >= 2


def test_a_short_letter_says_page_one_of_one() -> None:
    content = replace(letter("L10"), attachments=(), reply_code=None, reply_url=None, signature=())
    texts = page_texts(render_pdf(content))
    assert len(texts) == 1
    assert "Pagina 1 van 1" in texts[0]


def _qr_paths(pdf: bytes) -> list[list[tuple[int, int, int]]]:
    """Every path of "col row width 1 re" rectangles filled at once: [(col, row, width), ...] per path."""
    paths: list[list[tuple[int, int, int]]] = []
    for page in reader(pdf).pages:
        stream = ContentStream(page.get_contents(), page.pdf)
        current: list[tuple[int, int, int]] = []
        for operands, operator in stream.operations:
            if operator == b"re":
                current.append(tuple(float(v) for v in operands))  # type: ignore[arg-type]
            elif operator == b"f" and current:
                paths.append(current)
                current = []
            elif operator != b"re":
                current = []
    return [p for p in paths if len(p) > 20]


def _matrix_from_path(path: list[tuple[int, int, int]], size: int) -> list[list[bool]]:
    grid = [[False] * size for _ in range(size)]
    for col, row, width, *_ in path:
        for c in range(int(col), int(col + width)):
            grid[size - 1 - int(row)][c] = True
    return grid


def test_the_reply_block_has_the_code_the_instruction_and_one_qr_path() -> None:
    pdf = render_pdf(letter("L1"))
    text = pdf_text(pdf)
    assert "Online antwoorden" in text
    assert f"Antwoorden kan op schuldroute.example/antwoord met code {REPLY_CODE} of via de QR-code." in text
    assert "Zk3mQ9xT2vL8pR4wN7bY1cH6" not in text  # the token is only in the QR code
    paths = _qr_paths(pdf)
    assert len(paths) == 1, "the QR code is drawn as one path"
    expected = qr_matrix(REPLY_URL)
    drawn = _matrix_from_path(paths[0], len(expected))
    assert drawn == [list(row) for row in expected]


def test_no_reply_block_without_a_reply_code() -> None:
    pdf = render_pdf(replace(letter("L1"), reply_code=None, reply_url=None))
    assert "Online antwoorden" not in pdf_text(pdf)
    assert _qr_paths(pdf) == []


def test_a_reply_code_without_a_link_prints_the_code_without_a_qr_code() -> None:
    pdf = render_pdf(replace(letter("L1"), reply_url=None))
    assert f"Vermeld bij uw antwoord de code {REPLY_CODE}." in pdf_text(pdf)
    assert _qr_paths(pdf) == []


def test_the_qr_code_decodes_to_the_reply_link(tmp_path: Path) -> None:
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp decodes the QR code (optional test dependency)")
    image_module = pytest.importorskip("PIL.Image")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian poppler-utils) rasterises the page")
    pdf = render_pdf(replace(letter("L2"), debts=()))
    (tmp_path / "letter.pdf").write_bytes(pdf)
    pages = len(reader(pdf).pages)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", "-f", str(pages), "-l", str(pages), "letter.pdf", "page"],
        cwd=tmp_path,
        check=True,
        timeout=60,
    )
    (png,) = tmp_path.glob("page*.png")
    results = zxingcpp.read_barcodes(image_module.open(png))
    assert [r.text for r in results] == [REPLY_URL]


def _positions(pdf: bytes, page_number: int = 0) -> list[tuple[str, float, float]]:
    found: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, _size: Any) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((text.strip(), x, y))

    reader(pdf).pages[page_number].extract_text(visitor_text=visit)
    return found


def _window() -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = window_rect()
    return x0 - 0.01, y0, x1, y1  # the PDF writes coordinates with 4 decimals


def test_the_recipient_address_sits_in_the_envelope_window() -> None:
    content = letter("L1")
    positions = _positions(render_pdf(content))
    x0, y0, x1, y1 = _window()
    for line in content.recipient.lines:
        (x, y), *_ = [(x, y) for text, x, y in positions if text == line]
        assert x0 <= x < x1
        assert y0 <= y <= y1
    # Nothing else is printed inside the window.
    inside = [text for text, x, y in positions if x0 <= x < x1 and y0 <= y <= y1]
    assert inside == list(content.recipient.lines)


def test_a_long_address_gets_a_smaller_size_and_stays_whole() -> None:
    lines = (
        "Woningcorporatie Het Lange Voorbeeld",
        "t.a.v. Afdeling Huurincasso en Debiteuren",
        "Postbus 1",
        "1000 AA  X",
    )
    lines = (*lines, "Regel vijf", "Regel zes")
    positions = _positions(render_pdf(replace(letter("L2"), recipient=Address(lines))))
    x0, y0, x1, y1 = _window()
    placed = [(t, x, y) for t, x, y in positions if t in lines]
    assert [t for t, _, _ in placed] == list(lines), "every line whole, none cut off"
    assert all(x0 <= x < x1 and y0 <= y <= y1 for _, x, y in placed)


def test_an_address_line_too_wide_for_the_window_is_an_error_not_an_ellipsis() -> None:
    department = "t.a.v. Afdeling bezwaar, beroep, klachten en geschillen over premies en terugvorderingen"
    with pytest.raises(AddressDoesNotFit, match="past niet in het venster"):
        render_pdf(replace(letter("L2"), recipient=Address(("CAK", department, "Postbus 1", "1000 AA  X"))))


def test_the_fonts_are_embedded_subsets_of_dejavu_sans() -> None:
    page = reader(render_pdf(letter("L1"))).pages[0]
    fonts = [f.get_object() for f in page["/Resources"]["/Font"].values()]
    names = sorted(str(f["/BaseFont"]).split("+", 1)[1] for f in fonts)
    assert names == ["DejaVuSans", "DejaVuSans-Bold"]
    assert all("/FontFile2" in f["/FontDescriptor"].get_object() for f in fonts)


def test_missing_fonts_name_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(FontsMissing, match="fonts-dejavu-core"):
        render_pdf(letter("L1"), font_dir=tmp_path)


def test_the_font_folder_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = font_dir(None)
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        (tmp_path / name).symlink_to(default / name)
    expected = render_pdf(letter("L1"))
    monkeypatch.setenv(FONT_DIR_ENV, str(tmp_path))
    assert font_dir(None) == tmp_path.resolve()
    assert render_pdf(letter("L1")) == expected  # same files, same bytes: our font names do not reach the PDF
    monkeypatch.setenv(FONT_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FontsMissing, match="nowhere"):
        render_pdf(letter("L1"))


def test_warm_up_and_the_time_per_letter() -> None:
    started = time.perf_counter()
    warm_up()
    warm = time.perf_counter() - started
    # The notice to a creditor that our authorisation ended: the shortest letter, one page without a reply block.
    l10 = letter("L10")
    notice = {**l10.fields, "withdrawal": {**l10.fields["withdrawal"], "to_creditor": True}}
    one_page = replace(l10, fields=notice, attachments=(), reply_code=None, reply_url=None)
    cases = (
        ("L10 to a creditor, 1 page, no QR", one_page),
        ("L10 + reply block with QR, 2 pages", replace(letter("L10"), attachments=())),
        ("L1 + QR, 2 pages", letter("L1")),
    )
    timings: dict[str, float] = {}
    for label, content in cases:
        samples = []
        for _ in range(15):
            t0 = time.perf_counter()
            render_pdf(content)
            samples.append(time.perf_counter() - t0)
        timings[label] = statistics.median(samples) * 1000
    qr_samples = []
    for _ in range(15):
        t0 = time.perf_counter()
        qr_matrix(REPLY_URL + str(len(qr_samples)))  # a new payload each time: nothing cached
        qr_samples.append(time.perf_counter() - t0)
    timings["QR encoding alone"] = statistics.median(qr_samples) * 1000
    assert len(reader(render_pdf(one_page)).pages) == 1
    print(f"\nletters: warm_up {warm * 1000:.0f} ms; " + "; ".join(f"{k} {v:.1f} ms" for k, v in timings.items()))


def test_without_their_reference_the_letter_leaves_the_column_out() -> None:
    text = pdf_text(render_pdf(replace(letter("L2"), their_reference=None)))
    assert "Ons kenmerk" in text
    assert "Uw kenmerk" not in text
