"""Normalize Japanese text extracted from PDFs: NFKC, bullets, page furniture, broken line repair."""

from __future__ import annotations

import re
import unicodedata

# Bullets that start a sentence/item. 「・」 only counts at the start of a line (it is also a word joiner).
BULLETS = "•✓➢⚫■●◆◇○□▪►▶✔※"
_BULLET_AT_START = re.compile(rf"^\s*([{re.escape(BULLETS)}]|・)")
_BULLET_INLINE = re.compile(rf"(?<=\S)\s*(?=[{re.escape(BULLETS)}])")
_SENTENCE_END = "。！？!?"
_PAGE_NUMBER = re.compile(r"^\s*(\d{1,3}|-\s*\d{1,3}\s*-|\d{1,3}\s*/\s*\d{1,3})\s*$")
# A line holding only chart values: percentages, counts, (n=1,013), years.
_CHART_LINE = re.compile(
    r"^[\s\d.,%()（）n=＝+\-~〜/:年度月件社人億万円倍pt]*\d[\s\d.,%()（）n=＝+\-~〜/:年度月件社人億万円倍pt]*$"
)
# Characters that cannot start a new sentence: the line continues the previous one.
_CONTINUES = re.compile(
    r"^[ぁ-ゖゝゞァィゥェォッャュョヮヵヶー、。，．）)」』】〕〉》％%をにはがのへとでやも]"
)
# After a blank line only these continue the sentence: particles, small kana, closing punctuation.
_CONTINUES_AFTER_BLANK = re.compile(
    r"^[ゝゞァィゥェォッャュョヮヵヶー、。，．）)」』】〕〉》％%をにはがへとで]"
)
# Characters a sentence cannot end with: the next line continues this one.
_OPEN_END = re.compile(r"[、（(「『【〔〈《・,]$")
# A case particle ending a line, followed by a line that reads as a predicate (not a short label).
_PARTICLE_END = re.compile(r"[をにがへ]$")
_PREDICATE_END = re.compile(r"[ぁ-ゖ。！？!?）)」』]$")
_ASCII_WORD_END = re.compile(r"[A-Za-z0-9]$")
_ASCII_WORD_START = re.compile(r"^[A-Za-z0-9]")


def nfkc(text: str) -> str:
    """NFKC-normalize (maps full-width ASCII to half-width and Kangxi radicals like ⼯ to 工)."""
    return unicodedata.normalize("NFKC", text)


def sentences(text: str) -> list[str]:
    """A message's sentences, NFKC-normalized: split after 。！？!? and at line breaks, stripped, none empty."""
    return [s.strip() for s in re.split(r"(?<=[。！？!?])|\n", nfkc(text)) if s.strip()]


def is_bullet_line(line: str) -> bool:
    """True when the line starts with a bullet such as •, ✓, ➢, ⚫, ■ or ・."""
    return bool(_BULLET_AT_START.match(line))


def is_page_number(line: str) -> bool:
    """True for page furniture: a line holding only a page number."""
    return bool(_PAGE_NUMBER.match(line))


def is_chart_line(line: str) -> bool:
    """True for a line that only holds chart values (percentages, counts, years)."""
    stripped = line.strip()
    return bool(stripped) and bool(_CHART_LINE.match(stripped))


def drop_page_furniture(lines: list[str]) -> list[str]:
    """Remove lines that are only page numbers."""
    return [line for line in lines if not is_page_number(line)]


def split_inline_bullets(line: str) -> list[str]:
    """Put each bullet that appears mid-line at the start of its own line."""
    return [part for part in _BULLET_INLINE.sub("\n", line).split("\n") if part.strip()]


def collapse_chart_values(lines: list[str]) -> list[str]:
    """Gather runs of chart-value lines into one line so they stay with their slide, not as noise."""
    out: list[str] = []
    run: list[str] = []
    for line in lines:
        if is_chart_line(line):
            run.append(line.strip())
            continue
        if not line.strip() and run:
            continue  # blank lines inside a run of values
        if run:
            out.append(" ".join(run))
            run = []
        out.append(line)
    if run:
        out.append(" ".join(run))
    return out


def _joins(prev: str, nxt: str, blank_between: bool) -> bool:
    """Decide whether a line break between `prev` and `nxt` falls inside a word or sentence."""
    if not prev or not nxt or is_bullet_line(nxt) or is_chart_line(nxt) or is_chart_line(prev):
        return False
    if prev.endswith(tuple(_SENTENCE_END)):
        return False
    particle_seam = bool(_PARTICLE_END.search(prev)) and (bool(_PREDICATE_END.search(nxt)) or len(nxt) >= 20)
    if blank_between:
        # A blank line is usually a paragraph break; cross it only on strong evidence: a particle or
        # open bracket at the seam, or a long bullet sentence whose short tail ends the sentence. A line
        # that merely starts with hiragana after a blank is a new item (「…推進する」⏎⏎「まずは身近な…」).
        seam = bool(_OPEN_END.search(prev)) or particle_seam or bool(_CONTINUES_AFTER_BLANK.match(nxt))
        tail_of_bullet = (
            is_bullet_line(prev) and len(prev) >= 30 and nxt.endswith("。") and len(nxt) < len(prev)
        )
        return (seam and len(prev) >= 12) or tail_of_bullet
    return True


def _glue(prev: str, nxt: str) -> str:
    if _ASCII_WORD_END.search(prev) and _ASCII_WORD_START.match(nxt):
        return f"{prev} {nxt}"
    return prev + nxt


def repair_line_breaks(lines: list[str]) -> list[str]:
    """Join lines broken mid-word or mid-sentence (「アナロ\\nグ業務」 → 「アナログ業務」).

    Keeps bullets as the start of a new line and keeps blank lines as paragraph breaks unless the
    next line obviously continues the sentence (starts with a particle/kana or the previous ends with 、).
    """
    out: list[str] = []
    blank_pending = False
    for raw in lines:
        line = raw.strip()
        if not line:
            blank_pending = True
            continue
        if out and out[-1] and _joins(out[-1], line, blank_pending):
            out[-1] = _glue(out[-1], line)
        else:
            if blank_pending and out:
                out.append("")
            out.append(line)
        blank_pending = False
    return out


def normalize_text(text: str) -> str:
    """Apply every rule: NFKC, bullets, page furniture, chart values, line-break repair, spaces."""
    text = nfkc(text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    lines: list[str] = []
    for line in text.split("\n"):
        lines.extend(split_inline_bullets(line) or [""])
    lines = drop_page_furniture(lines)
    lines = collapse_chart_values(lines)
    lines = repair_line_breaks(lines)
    lines = [re.sub(r"[ \u3000]{2,}", " ", line).strip() for line in lines]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def compact(text: str) -> str:
    """NFKC and remove all whitespace: the form used to check that a quote is verbatim in the corpus."""
    return re.sub(r"\s+", "", nfkc(text))
