"""Find slide/page boundaries and section headings, so every chunk knows where it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.normalize import is_bullet_line, is_chart_line, is_page_number, nfkc, normalize_text

# In decks extracted to text, a slide usually begins with a line that starts with exactly one space.
_SLIDE_START = re.compile(r"^ (?! )\S")
# Continued headings such as 「DX経営に求められる５つの柱（2/3）」 also open a slide.
_CONTINUED_HEADING = re.compile(r"^\S.{2,40}[(（]\d+\s*/\s*\d+[)）]\s*$")
# 「（参考）…」「（まとめ）…」 open a slide in METI's decks, with or without the leading space.
_LABELLED_TITLE = re.compile(r"^ ?[(（]\s*(参考|まとめ)\s*[)）]")
# A count with its unit (「計 43地域」「149団体」) is a chart or map label, not a slide title.
_COUNT_LABEL = re.compile(r"\d+\s*(地域|件|社|名|人|団体|%|％)")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$")
_NOT_HEADING_START = ("出典", "(出典", "（出典", "(注", "（注", "http", "※")
_MAX_HEADING = 40
_MIN_SLIDE_CHARS = 100
_STARTS_MID_PHRASE = re.compile(r"^[ぁ-ゖァィゥェォッャュョー、。)）」』]")
_ENDS_WITH_PARTICLE = re.compile(r"[にをはがのへとでや]$")


# Long guides (multi-page PDFs): table-of-contents lines, numbered clauses and their parts.
_TOC_LINE = re.compile(r"(?:…|‥|\.{3,}|・{3,}|･{3,})\s*\d{1,4}\s*$")
_CLAUSE = re.compile(r"^柱\s*(\d{1,2})(?:\s*[-‐－ー―]\s*(\d{1,2}))?(?:[\s.:：．]+(\S.{0,40}))?$")
_VIEWPOINT = re.compile(r"^視点\s*([①②③123])(?:[\s.:：．]+(\S.{0,40}))?$")
_CLAUSE_PART = re.compile(
    r"^[【\[(（]?\s*(?:\(?\d\)|[①-⑩]|\d[.．])?\s*(基本的事項|柱となる考え方|望ましい方向性|取組例|認定基準)\s*[】\])）]?$"
)
_CHAPTER = re.compile(r"^第\s*\d{1,2}\s*[章部編](?:\s.{1,40})?$")
_CLAUSE_REF = re.compile(r"柱\s*(\d{1,2})(?:\s*[-‐－ー―の]\s*(\d{1,2}))?|視点\s*([①②③123])(?!\d)")
_FOOTNOTE = re.compile(r"^(?:[(（]?注\s*[\d\-]+[)）]?\s*[:：]|※\s*\d)")
_MAX_CELL = 25
_MIN_TABLE_CELLS = 4
_FURNITURE_SHARE = 0.4  # a line on this share of pages (at their top or bottom) is a running header/footer
_EDGE_LINES = 6  # how many lines at each end of a page can be furniture


_CIRCLED = {"1": "①", "2": "②", "3": "③"}  # 視点2 is written 視点② in the guides


def _one_line(line: str) -> str:
    """A line as headings are compared and shown: NFKC, trimmed, runs of spaces as one."""
    return re.sub(r"\s+", " ", nfkc(line).strip())


@dataclass(frozen=True)
class Segment:
    """One slide or page (or the part of a page under one heading): its number, heading, clause id
    (「柱3-2」 in a guide with numbered clauses) and normalized text."""

    page: int
    heading: str | None
    text: str
    clause: str | None = None


def clause_id(line: str) -> tuple[str, str | None] | None:
    """(「柱3-2」, its title) when the line is a clause heading such as 「柱3-2 デジタル人材の育成・確保」."""
    line = _one_line(line)
    if match := _CLAUSE.match(line):
        number = match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")
        return f"柱{number}", match.group(3)
    if match := _VIEWPOINT.match(line):
        mark = _CIRCLED.get(match.group(1), match.group(1))
        return f"視点{mark}", match.group(2)
    return None


def clause_refs(text: str) -> list[str]:
    """The clause ids a question names (「柱3の2」「柱 3-2」 → 柱3-2, 「視点②」), in the form chunks carry."""
    out: list[str] = []
    for match in _CLAUSE_REF.finditer(nfkc(text)):
        if match.group(3):
            ref = "視点" + _CIRCLED.get(match.group(3), match.group(3))
        else:
            ref = f"柱{match.group(1)}" + (f"-{match.group(2)}" if match.group(2) else "")
        if ref not in out:
            out.append(ref)
    return out


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
            return _one_line(line)
    return None


def _balanced(text: str) -> bool:
    return all(text.count(a) == text.count(b) for a, b in ("「」", "()", "『』", "【】"))


def _is_slide_start(line: str) -> bool:
    if not (_SLIDE_START.match(line) or _CONTINUED_HEADING.match(nfkc(line)) or _LABELLED_TITLE.match(line)):
        return False
    return _is_title(line)


def _is_title(line: str) -> bool:
    """A whole phrase that can title a slide (not a chart label, a fragment or a count)."""
    title = nfkc(line).strip()
    # Chart labels in decks also start with a space: a title is a whole phrase, not a fragment.
    return (
        looks_like_heading(title)
        and len(title) >= 5
        and _balanced(title)
        and not _STARTS_MID_PHRASE.match(title)
        and not _ENDS_WITH_PARTICLE.search(title)
        and not _COUNT_LABEL.search(title)
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
    # A title without the leading space (「DX認定事業者への各種支援措置」) still opens a slide when it stands
    # apart (two blank lines before it) and the slide's bullets follow it.
    for k, line in enumerate(lines):
        if starts[k] or not line.strip() or line.startswith(" "):
            continue
        before = lines[max(0, k - 2) : k]
        after = [x for x in lines[k + 1 : k + 4] if x.strip()][:1]
        if (
            len(before) == 2
            and not any(x.strip() for x in before)
            and after
            and is_bullet_line(after[0])
            and _is_title(line)
        ):
            starts[k] = True
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
    # (Titles are told with the blank lines around them: 「DX認定事業者への各種支援措置」 has none before.)
    starts = _slide_starts(lines)
    opening = [i for i, line in enumerate(lines) if line.strip()][:4]
    titles = [lines[i] for i in opening if starts[i]]
    labelled = [line for line in titles if _LABELLED_TITLE.match(line)]
    titles = labelled or titles  # 「（参考）…」 is the slide's own title, whatever label follows it
    if titles:
        return _one_line(titles[-1])
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


def _furniture_keys(line: str, page: int) -> tuple[str, str]:
    """The line as compared across pages: exactly, and with this page's number replaced by #
    (「- 12 -」, 「DX推進の手引き 12」)."""
    exact = re.sub(r"\s+", "", nfkc(line))
    return exact, re.sub(rf"(?<!\d){page}(?!\d)", "#", exact)


def strip_furniture(pages: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """Each page's lines without running headers and footers, page numbers and table-of-contents lines.

    A running header or footer is a line near the top or bottom of a page that recurs on other pages:
    word for word on at least 3 pages (a chapter's running title), or with the page's own number on
    most pages (「- 12 -」). Clause headings and their parts (【取組例】) are never furniture."""
    lines_of = [(number, [line for line in text.split("\n") if line.strip()]) for number, text in pages]
    exact_on: dict[str, set[int]] = {}
    numbered_on: dict[str, set[int]] = {}
    for number, lines in lines_of:
        for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]:
            if is_clause_heading(nfkc(line).strip()) or len(re.findall(r"\w", line)) < 2:
                continue  # a heading, or the tail of a broken sentence (「。」「）。」)
            exact, numbered = _furniture_keys(line, number)
            exact_on.setdefault(exact, set()).add(number)
            if numbered != exact:
                numbered_on.setdefault(numbered, set()).add(number)
    least = max(3, int(len(pages) * _FURNITURE_SHARE))
    running = {key for key, where in exact_on.items() if len(where) >= 3}
    running |= {key for key, where in numbered_on.items() if len(where) >= least}
    out = []
    for number, lines in lines_of:
        edge = set(range(_EDGE_LINES)) | set(range(len(lines) - _EDGE_LINES, len(lines)))
        kept = []
        for i, line in enumerate(lines):
            flat = nfkc(line).strip()
            furniture = (
                i in edge
                and not is_clause_heading(flat)
                and (is_page_number(flat) or any(key in running for key in _furniture_keys(line, number)))
            )
            if not furniture and not _TOC_LINE.search(flat):
                kept.append(line)
        out.append((number, _mark_tables(kept)))
    return out


def _is_cell(line: str) -> bool:
    flat = nfkc(line).strip()
    return 0 < len(flat) <= _MAX_CELL and not flat.endswith(tuple("。、")) and not is_clause_heading(flat)


def _mark_tables(lines: list[str]) -> list[str]:
    """A run of short cell-like lines (a table as text extraction gives it: 「項目」「内容」「対象」…) becomes
    one line with its cells separated by 「 / 」, set apart by blank lines so that it joins no sentence;
    a footnote (「注1：」「※2」) starts its own paragraph."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and _is_cell(lines[j]):
            j += 1
        if j - i >= _MIN_TABLE_CELLS:
            out.extend(["", " / ".join(nfkc(line).strip() for line in lines[i:j]), ""])
            i = j
            continue
        if _FOOTNOTE.match(nfkc(lines[i]).strip()):
            out.append("")
        out.append(lines[i])
        i += 1
    return out


def is_clause_heading(line: str) -> bool:
    """「柱3-2 …」「視点②」 or one of a clause's parts (【望ましい方向性】)."""
    line = _one_line(line)
    return clause_id(line) is not None or _CLAUSE_PART.match(line) is not None


def segment_guide(pages: list[tuple[int, str]]) -> list[Segment]:
    """A long document's pages cut at page breaks and at its headings: chapters (「第2章 …」), clauses
    (「柱3-2 …」) and clause parts (【望ましい方向性】). A clause and its heading carry over page breaks, so
    every passage of 柱3-2 knows it belongs to 柱3-2; page furniture is left out."""
    segments: list[Segment] = []
    clause: str | None = None
    title = ""
    heading: str | None = None
    buf: list[str] = []  # lines of the passage being read; heading lines alone wait for their text

    def flush(page: int, fallback: str | None) -> None:
        if all(is_clause_heading(line) or not line.strip() for line in buf):
            return  # only headings so far: they open the next passage
        body = normalize_text("\n".join(buf))
        if body:
            # Within a clause its (part) heading; elsewhere the page's own title before the chapter's.
            segments.append(Segment(page, heading if clause else (fallback or heading), body, clause))
        buf.clear()

    chapter: str | None = None
    for (number, raw), (_, lines) in zip(pages, strip_furniture(pages), strict=True):
        # A chapter named only in the running header (its heading line was furniture) begins here.
        named = [c for line in raw.split("\n") if _CHAPTER.match(c := _one_line(line))]
        if named and named[0] != chapter and not any(_CHAPTER.match(nfkc(line).strip()) for line in lines):
            flush(number, None)
            chapter, clause, heading = named[0], None, named[0]
        fallback = find_heading(lines)
        for line in lines:
            stripped = _one_line(line)
            found = clause_id(stripped)
            part = _CLAUSE_PART.match(stripped)
            if found:
                flush(number, fallback)
                clause, title = found[0], found[1] or ""
                heading = f"{clause} {title}".strip()
            elif part and clause:
                flush(number, fallback)
                heading = f"{clause} {title}".strip() + f"（{part.group(1)}）"
            elif _CHAPTER.match(stripped):
                flush(number, fallback)
                chapter, clause, heading = stripped, None, stripped
            if found or part:
                buf.extend(["", stripped, ""])  # blank lines keep a heading from running into its text
            else:
                buf.append(line)
        flush(number, fallback)
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
    if len(pages) > 1:
        return segment_guide(pages)
    segments = []
    for number, text in pages:
        body = normalize_text(text)
        if body:
            segments.append(Segment(page=number, heading=find_heading(text.split("\n")), text=body))
    return segments
