"""Generate PDFs shaped like METI's full guides, with the truth of where each passage is.

The real guides cannot be downloaded here, so ingest is tested and timed on look-alikes: a cover, a table
of contents with dot leaders, running headers and footers with page numbers on every page, numbered
clauses (「柱3-2」 with 【基本的事項】【望ましい方向性】【取組例】), ①② lists, footnotes, tables and
two-column pages. The text is synthetic (it says so), built from the clause names; `edition` changes the
wording so that two versions of one clause differ.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from bot.memo_pdf import japanese_font

PAGE_W, PAGE_H = 595.27, 841.89  # A4
MARGIN_X, TOP, BOTTOM = 56.0, 780.0, 90.0
SIZE, LEADING = 10.5, 16.0

PILLARS: tuple[tuple[str, str], ...] = (
    ("1", "経営ビジョン・ビジネスモデルの策定"),
    ("2", "DX戦略の策定"),
    ("3-1", "組織づくり"),
    ("3-2", "デジタル人材の育成・確保"),
    ("3-3", "ITシステム・サイバーセキュリティ"),
    ("4", "成果指標の設定・DX戦略の見直し"),
    ("5", "ステークホルダーとの対話"),
)
PARTS = ("基本的事項", "望ましい方向性", "取組例")


@dataclass
class Placed:
    """A sentence drawn in the PDF: where it is and which clause it belongs to."""

    text: str
    page: int
    clause: str | None


@dataclass
class GuideTruth:
    """What a generated guide holds: its page count, furniture strings and every marked sentence."""

    title: str
    pages: int
    header: str
    sentences: list[Placed] = field(default_factory=list)


class _Writer:
    """Flows lines onto pages (one or two columns) and draws each page's header, footer and footnotes."""

    def __init__(self, title: str, header: str) -> None:
        from reportlab.pdfgen import canvas

        self.font, _ = japanese_font()
        self.buffer = io.BytesIO()
        self.pdf = canvas.Canvas(self.buffer, pagesize=(PAGE_W, PAGE_H))
        self.pdf.setTitle(title)
        self.header = header
        self.chapter = ""  # the chapter being written
        self.page_chapter = ""  # the chapter the current page's running header names (where it began)
        self.page = 1
        self.columns = 1
        self.column = 0
        self.y = TOP
        self.footnotes: list[str] = []
        self.numbered = False  # the cover has no header, footer or number

    @property
    def width(self) -> float:
        return (PAGE_W - 2 * MARGIN_X - 20 * (self.columns - 1)) / self.columns

    @property
    def x(self) -> float:
        return MARGIN_X + self.column * (self.width + 20)

    def _furniture(self) -> None:
        if not self.numbered:
            return
        self.pdf.setFont(self.font, 8)
        self.pdf.drawString(MARGIN_X, PAGE_H - 40, self.page_chapter)
        self.pdf.drawRightString(PAGE_W - MARGIN_X, PAGE_H - 40, self.header)
        y = BOTTOM - 20
        for note in self.footnotes:
            self.pdf.drawString(MARGIN_X, y, note)
            y -= 11
        self.pdf.drawCentredString(PAGE_W / 2, 40, f"- {self.page} -")
        self.pdf.drawRightString(PAGE_W - MARGIN_X, 40, "Copyright © 経済産業省（合成テスト文書）")

    def new_page(self, columns: int | None = None) -> None:
        self._furniture()
        self.pdf.showPage()
        self.page += 1
        self.numbered = True
        self.page_chapter = self.chapter
        self.columns = columns or self.columns
        self.column, self.y, self.footnotes = 0, TOP, []

    def _room(self, lines: int) -> None:
        if self.y - lines * LEADING >= BOTTOM + 11 * len(self.footnotes):
            return
        if self.column + 1 < self.columns:
            self.column, self.y = self.column + 1, TOP
        else:
            self.new_page()

    def _wrap(self, text: str, size: float, indent: float) -> list[str]:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        lines, line = [], ""
        for ch in text:
            if line and stringWidth(line + ch, self.font, size) > self.width - indent:
                lines.append(line)
                line = ""
            line += ch
        return [*lines, line]

    def text(self, text: str, size: float = SIZE, indent: float = 0, gap: float = 4) -> int:
        """Draw a paragraph; returns the page its first line is on."""
        lines = self._wrap(text, size, indent)
        self._room(min(len(lines), 2))
        first = self.page
        for line in lines:
            self._room(1)
            self.pdf.setFont(self.font, size)
            self.pdf.drawString(self.x + indent, self.y, line)
            self.y -= LEADING * size / SIZE
        self.y -= gap
        return first

    def table(self, rows: list[tuple[str, str]]) -> int:
        self._room(len(rows) + 1)
        first = self.page
        left = self.width * 0.3
        for a, b in rows:
            self.pdf.setFont(self.font, 9)
            self.pdf.rect(self.x, self.y - 5, left, LEADING)
            self.pdf.rect(self.x + left, self.y - 5, self.width - left, LEADING)
            self.pdf.drawString(self.x + 4, self.y, a)
            self.pdf.drawString(self.x + left + 4, self.y, b)
            self.y -= LEADING
        self.y -= 8
        return first

    def footnote(self, note: str) -> None:
        self.footnotes.append(note)

    def finish(self) -> bytes:
        self._furniture()
        self.pdf.showPage()
        self.pdf.save()
        return self.buffer.getvalue()


def _wording(name: str, part: str, k: int, edition: str) -> str:
    """One synthetic sentence for a clause part; editions differ in their wording."""
    verb = "定め、社内外に公表する" if edition >= "3" else "定める"
    return {
        "基本的事項": f"企業は、{name}について、経営ビジョンと整合する方針を{verb}（{edition}版の記述{k}）。",
        "望ましい方向性": f"{name}を進めるため、経営者が自ら関与し、定期的に見直す体制を整える（{edition}版の方向性{k}）。",
        "取組例": f"ある企業は、{name}の一環として、部門横断のチームで業務データを共有した（{edition}版の事例{k}）。",
    }[part]


def write_guide(
    path: Path, pages: int = 30, title: str = "デジタルガバナンス・コード3.0", edition: str = "3.0"
) -> GuideTruth:
    """Write a guide-like PDF of exactly `pages` pages (at least 24) and return where its sentences are."""
    if pages < 24:
        raise ValueError("a guide needs at least 24 pages (cover, contents, seven clauses, cases)")
    header = f"{title}（合成テスト文書）"
    truth = GuideTruth(title=title, pages=pages, header=header)
    w = _Writer(title, header)
    w.text(title, size=22, gap=20)
    w.text("令和6年9月　経済産業省", size=12)
    w.text("この文書は DXナビ の試験用に合成したもので、公式の文書ではありません。", size=9)

    w.chapter = "目次"
    w.new_page()
    w.text("目次", size=14, gap=10)
    for n, (key, name) in enumerate(PILLARS):
        w.text(f"柱{key} {name} {'…' * 12} {4 + 2 * n}")

    w.chapter = "第1章 デジタルガバナンス・コードの位置づけ"
    w.new_page()
    w.text(w.chapter, size=14, gap=10)
    for k in range(3):
        sentence = f"本コードは、企業が経営とデジタルを一体で進めるための考え方を示すものである（総論{k}）。"
        truth.sentences.append(Placed(sentence, w.text(sentence), None))

    w.chapter = "第2章 5つの柱"
    spare = pages - 3 - len(PILLARS) * 1  # pages left for longer clauses and the case chapter
    per_part = max(2, min(6, spare // (len(PILLARS) * 2)))
    for key, name in PILLARS:
        w.new_page(columns=1)
        w.text(f"柱{key} {name}", size=14, gap=8)
        clause = f"柱{key}"
        for part in PARTS:
            if part == "取組例" and key in ("2", "3-2", "4"):
                w.new_page(columns=2)  # case examples set in two columns
            w.text(f"【{part}】", size=12, gap=6)
            two_columns = w.columns == 2
            for k in range(16 if two_columns else per_part):
                sentence = _wording(name, part, k, edition)
                shown = f"{'①②③④⑤⑥'[k]} {sentence}" if part == "望ましい方向性" else sentence
                truth.sentences.append(
                    Placed(sentence, w.text(shown, indent=8 if part != "基本的事項" else 0), clause)
                )
            if part == "基本的事項":
                w.table([("項目", "内容"), ("対象", name), ("主体", "経営者")])
                w.text(f"（注{key}）詳しくは{name}の解説を参照する。", size=9)
                w.footnote(f"注{key}：{name}に関する補足（合成テスト文書）")
        w.columns = 1

    w.chapter = "第3章 取組事例"
    w.new_page(columns=1)
    w.text(w.chapter, size=14, gap=10)
    k = 0
    while not (w.page == pages and w.y - 2 * LEADING < BOTTOM):
        sentence = f"事例{k}の企業は、受発注の記録をデジタル化し、在庫の確認にかかる時間を減らした。"
        truth.sentences.append(Placed(sentence, w.text(sentence), None))
        if w.page > pages:
            raise ValueError(f"{pages} pages are too few for this guide's clauses")
        k += 1
    data = w.finish()
    path.write_bytes(data)
    return truth
