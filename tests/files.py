"""Builders for real corpus files in a test folder: Japanese PDFs (plain, encrypted, broken, image-only)
and text files in a chosen encoding."""

from __future__ import annotations

import io
from pathlib import Path

FONT_PACKAGE = "fonts-ipafont-gothic"
FONT_PATHS = (
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)
# reportlab's built-in Adobe-Japan1 CID font: not embedded, but pypdf still maps it back to Unicode.
_FALLBACK_CID_FONT = "HeiseiKakuGo-W5"
_TTF_NAME = "IPAGothic"

_PAGE_WIDTH, _PAGE_HEIGHT = 595.27, 841.89  # A4 in points
_MARGIN = 56.0
_FONT_SIZE = 11.0
_LEADING = 16.0


def japanese_font() -> str:
    """Register and return the name of a Japanese font: the IPA Gothic TTF if installed, else a CID font."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    registered = pdfmetrics.getRegisteredFontNames()
    if _TTF_NAME in registered:
        return _TTF_NAME
    for font_path in FONT_PATHS:
        if font_path.is_file():
            pdfmetrics.registerFont(TTFont(_TTF_NAME, str(font_path)))
            return _TTF_NAME
    if _FALLBACK_CID_FONT not in registered:
        pdfmetrics.registerFont(UnicodeCIDFont(_FALLBACK_CID_FONT))
    return _FALLBACK_CID_FONT


def _wrap(text: str, font: str, width: float) -> list[str]:
    """Break `text` into lines no wider than `width`, character by character (Japanese has no spaces)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if line and stringWidth(line + ch, font, _FONT_SIZE) > width:
                lines.append(line)
                line = ""
            line += ch
        lines.append(line)
    return lines


def make_pdf(
    path: Path,
    pages: list[str],
    title: str | None = None,
    user_password: str | None = None,
    owner_password: str | None = None,
) -> Path:
    """Write a real PDF with one page per string in `pages`; encrypt with AES-256 if a password is given."""
    from reportlab.pdfgen import canvas

    font = japanese_font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(_PAGE_WIDTH, _PAGE_HEIGHT))
    if title is not None:
        pdf.setTitle(title)
    for page_text in pages:
        pdf.setFont(font, _FONT_SIZE)
        y = _PAGE_HEIGHT - _MARGIN
        for line in _wrap(page_text, font, _PAGE_WIDTH - 2 * _MARGIN):
            if y < _MARGIN:
                raise ValueError(f"page text too long for one PDF page: {page_text[:30]!r}…")
            pdf.drawString(_MARGIN, y, line)
            y -= _LEADING
        pdf.showPage()
    pdf.save()
    data = buffer.getvalue()

    if user_password is not None or owner_password is not None:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.encrypt(
            user_password=user_password or "",
            owner_password=owner_password or user_password or "owner",
            algorithm="AES-256",
        )
        encrypted = io.BytesIO()
        writer.write(encrypted)
        data = encrypted.getvalue()

    path.write_bytes(data)
    return path


def make_image_only_pdf(path: Path) -> Path:
    """Write a one-page PDF that holds only drawn shapes, like a scan without a text layer."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=(_PAGE_WIDTH, _PAGE_HEIGHT))
    pdf.setFillGray(0.8)
    pdf.rect(_MARGIN, _MARGIN, _PAGE_WIDTH - 2 * _MARGIN, _PAGE_HEIGHT - 2 * _MARGIN, fill=1)
    pdf.setFillGray(0.2)
    for row in range(20):
        # grey bars where lines of scanned text would be
        pdf.rect(_MARGIN * 2, _PAGE_HEIGHT - _MARGIN * 2 - row * 30, 300 + (row % 3) * 40, 10, fill=1)
    pdf.circle(_PAGE_WIDTH / 2, _MARGIN * 2, 20, fill=1)
    pdf.showPage()
    pdf.save()
    return path


def make_truncated_pdf(path: Path) -> Path:
    """Write a valid Japanese PDF cut in half, as an interrupted download leaves it."""
    make_pdf(path, ["中小企業のDX推進ガイド。途中で切れたファイルです。"] * 3, title="途中で切れたPDF")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def make_empty_pdf(path: Path) -> Path:
    """Write a structurally valid PDF that has no pages at all."""
    from pypdf import PdfWriter

    with path.open("wb") as handle:
        PdfWriter().write(handle)
    return path


def make_text_file(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` in `encoding` (e.g. "cp932", "euc_jp", "utf-8-sig") and return the path."""
    path.write_bytes(text.encode(encoding))
    return path
