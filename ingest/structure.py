"""Find slide/page boundaries and section headings, so every chunk knows where it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.normalize import is_bullet_line, is_chart_line, is_page_number, nfkc, normalize_text

# In decks extracted to text, a slide usually begins with a line that starts with exactly one space.
_SLIDE_START = re.compile(r"^ (?! )\S")
# Continued headings such as 「DX経営に求められる５つの柱（2/3）」 also open a slide.
_CONTINUED_HEADING = re.compile(r"^\S.{2,40}[(（]\d+\s*/\s*\d+[)）]\s*$")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$")
_NOT_HEADING_START = ("出典", "(出典", "（出典", "(注", "（注", "http", "※")
_MAX_HEADING = 40
_MIN_SLIDE_CHARS = 100
_STARTS_MID_PHRASE = re.compile(r"^[ぁ-ゖァィゥェォッャュョー、。)）」』]")
_ENDS_WITH_PARTICLE = re.compile(r"[にをはがのへとでや]$")


@dataclass(frozen=True)
class Segment:
    """One slide or page: its number, heading and normalized text."""

    page: int
    heading: str | None
    text: str


def looks_like_heading(line: str) -> bool:
    """A short title line: no sentence end, not a bullet, chart value, source note or page number."""
    line = nfkc(line).strip()
    if not (3 <= len(line) <= _MAX_HEADING):
        return False
    if line.endswith(("。", "、")) or is_bullet_line(line) or is_chart_line(line) or is_page_number(line):
        return False
    return not line.startswith(_NOT_HEADING_START)


def find_heading(lines: list[str]) -> str | None:
    """The slide's title: its first line if that is heading-like, else the first heading-like line."""
    for line in lines:
        if line.strip() and looks_like_heading(line):
            return re.sub(r"\s+", " ", nfkc(line).strip())
    return None


def _balanced(text: str) -> bool:
    return all(text.count(a) == text.count(b) for a, b in ("「」", "()", "『』", "【】"))


def _is_slide_start(line: str) -> bool:
    if not (_SLIDE_START.match(line) or _CONTINUED_HEADING.match(nfkc(line))):
        return False
    title = nfkc(line).strip()
    # Chart labels in decks also start with a space: a title is a whole phrase, not a fragment.
    return (
        looks_like_heading(title)
        and len(title) >= 5
        and _balanced(title)
        and not _STARTS_MID_PHRASE.match(title)
        and not _ENDS_WITH_PARTICLE.search(title)
    )


def _slide_starts(lines: list[str]) -> list[bool]:
    """Which lines open a slide. Chart labels also come as runs of one-space lines
    (「 4. 20億円以上」「 0」「 上1,000億円」): a run holding any line that is no title is all labels."""
    starts = [_is_slide_start(line) for line in lines]
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and _SLIDE_START.match(lines[j]):
            j += 1
        if j > i and not all(starts[i:j]):
            starts[i:j] = [False] * (j - i)
        i = max(j, i + 1)
    return starts


def split_slides(text: str) -> list[list[str]]:
    """Cut a deck's text into slides (lists of raw lines); title-only slides join the next one."""
    slides: list[list[str]] = [[]]
    lines = text.split("\n")
    for line, start in zip(lines, _slide_starts(lines), strict=True):
        if start and any(s.strip() for s in slides[-1]):
            slides.append([])
        if start:
            # Blank lines around the title keep it on its own line when broken lines are joined
            # (a title-only slide carried into this one would otherwise run into the title).
            slides[-1].extend(["", line, ""])
        else:
            slides[-1].append(line)
    merged: list[list[str]] = []
    carry: list[str] = []
    for slide in slides:
        body = [s for s in slide if s.strip()]
        if len("".join(body)) < _MIN_SLIDE_CHARS:
            if all(looks_like_heading(s) for s in body):
                carry.extend(slide)  # a section divider or a picture-only slide: keep with the next
                continue
            if merged:
                merged[-1].extend(slide)  # stray chart labels: keep with the slide they came from
                continue
        merged.append(carry + slide)
        carry = []
    if carry:
        if merged:
            merged[-1].extend(carry)
        else:
            merged.append(carry)
    return merged


def _slide_heading(lines: list[str]) -> str | None:
    # Prefer the slide's own opening line(s) that start with one space; the last of a run of
    # opening title lines is the most specific (「1.日本企業のDX取組状況」 then 「DXとは何か」).
    opening = [line for line in lines if line.strip()][:4]
    titles = [line for line, start in zip(opening, _slide_starts(opening), strict=True) if start]
    if titles:
        return re.sub(r"\s+", " ", nfkc(titles[-1]).strip())
    return find_heading(lines)


def is_slide_deck(text: str) -> bool:
    """True when a one-page text looks like a slide deck extracted to text (many one-space starts)."""
    return sum(1 for line in text.split("\n") if _SLIDE_START.match(line)) >= 5


def segment_markdown(page: int, text: str) -> list[Segment]:
    """Split markdown at its headings."""
    segments: list[Segment] = []
    heading: str | None = None
    buf: list[str] = []

    def flush() -> None:
        body = normalize_text("\n".join(buf))
        if body:
            segments.append(Segment(page=page, heading=heading, text=body))

    for line in text.split("\n"):
        match = _MD_HEADING.match(line.strip())
        if match:
            flush()
            heading, buf = nfkc(match.group(1)), []
        else:
            buf.append(line)
    flush()
    return segments


def segment_pages(pages: list[tuple[int, str]], kind: str) -> list[Segment]:
    """Turn a document's pages into segments: slides for a deck in one text, else one per page."""
    if kind == "md":
        return [seg for number, text in pages for seg in segment_markdown(number, text)]
    if len(pages) == 1 and is_slide_deck(pages[0][1]):
        out = []
        for number, lines in enumerate(split_slides(pages[0][1]), start=1):
            body = normalize_text("\n".join(lines))
            if body:
                out.append(Segment(page=number, heading=_slide_heading(lines), text=body))
        return out
    segments = []
    for number, text in pages:
        body = normalize_text(text)
        if body:
            segments.append(Segment(page=number, heading=find_heading(text.split("\n")), text=body))
    return segments
