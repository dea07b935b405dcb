"""The 相談メモ as a printable A4 PDF (reportlab), with a Japanese TrueType font embedded.

The font is the first of DXNAVI_MEMO_FONT and the usual places of IPA Gothic / Noto Sans CJK; without one,
reportlab's built-in Japanese CID font is used (not embedded: most PDF readers still show it)."""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer

from bot.memo import NOTE, Memo, company_lines, documents, source_line

FONT_NAME = "DxnaviJapanese"
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/ヒラギノ角ゴシック W3.ttc",
    "C:/Windows/Fonts/msgothic.ttc",
)
CID_FALLBACK = "HeiseiKakuGo-W5"
ACCENT = colors.HexColor("#1f5fae")


@lru_cache(maxsize=1)
def japanese_font() -> tuple[str, bool]:
    """The registered font's name and whether it is embedded (a TrueType file was found)."""
    wanted = os.environ.get("DXNAVI_MEMO_FONT")
    for candidate in ([wanted] if wanted else []) + list(FONT_CANDIDATES):
        path = Path(candidate)
        if path.is_file():
            try:
                pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
            except Exception:  # not a usable TrueType font: try the next
                continue
            return FONT_NAME, True
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return CID_FALLBACK, False


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=15, wordWrap="CJK", alignment=TA_LEFT)
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=24, textColor=ACCENT),
        "meta": ParagraphStyle("meta", parent=base, fontSize=9, textColor=colors.HexColor("#555555")),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=3, textColor=ACCENT
        ),
        "body": base,
        "quote": ParagraphStyle(
            "quote",
            parent=base,
            leftIndent=8,
            borderPadding=(2, 0, 2, 6),
            textColor=colors.HexColor("#333333"),
        ),
        "source": ParagraphStyle("source", parent=base, fontSize=7.5, leading=10.5),
        "note": ParagraphStyle(
            "note", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#555555")
        ),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _bullets(items: list[str], style: ParagraphStyle) -> ListFlowable:
    return ListFlowable(
        [ListItem(_p(item, style), leftIndent=12) for item in items],
        bulletType="bullet",
        bulletFontName=style.fontName,
        bulletFontSize=8,
        leftIndent=12,
    )


def memo_pdf(memo: Memo) -> bytes:
    """The memo as PDF bytes (A4, the sections of `memo_markdown`)."""
    font, _ = japanese_font()
    s = _styles(font)
    story: list = [
        _p(f"DX相談メモ（{memo.agency_name}あて）", s["title"]),
        _p(f"作成日: {memo.made_on:%Y年%m月%d日}（DXナビ）", s["meta"]),
    ]
    company = company_lines(memo.company)
    if company:
        story.append(_p("　".join(company), s["meta"]))
    story += [Spacer(1, 4 * mm), _p("ご相談の内容（ご本人のことば）", s["h2"])]
    story += [_p(f"「{w}」", s["quote"]) for w in memo.owner_words]
    if memo.stage:
        story += [_p(f"現在地（推定）: {memo.stage}", s["h2"]), _p(memo.stage_reason or "", s["body"])]
    story += [_p(f"相談先: {memo.agency_name}", s["h2"]), _p(memo.agency_reason, s["body"])]
    for heading, items in (
        ("相談するときに伝えること・持っていくもの", memo.tell),
        ("資料が勧める最初の一歩", memo.steps),
        ("資料に書かれていないこと（相談先で確かめること）", memo.gaps),
    ):
        if items:
            story += [_p(heading, s["h2"]), _bullets(items, s["body"])]
    story.append(_p("出典", s["h2"]))
    story += [_p(d, s["source"]) for d in documents(memo)]
    story += [_p(source_line(c), s["source"]) for c in memo.sources]
    story += [Spacer(1, 3 * mm), _p(NOTE, s["note"])]

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"DX相談メモ（{memo.agency_name}あて）",
        author="DXナビ",
    )
    doc.build(story)
    return out.getvalue()
