"""Split segments into chunks on Japanese sentence and bullet boundaries, sized in fugashi tokens."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ingest.normalize import BULLETS, is_chart_line
from ingest.structure import Segment
from ingest.tokenize import count_tokens

_SENTENCE = re.compile(r"[^。！？!?\n]*(?:[。！？!?]+[」』）)]*|(?=\n)|$)")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """One indexed passage with everything a citation needs."""

    chunk_id: str
    doc_id: str
    title: str
    page: int
    heading: str | None
    start: int  # character offsets into the normalized segment (page/slide) text
    end: int
    text: str
    clause: str | None = None  # the guide's clause id (「柱3-2」) where the passage belongs to one

    @property
    def embed_text(self) -> str:
        """What the embedder sees: heading + text without chart value lines (they only add noise)."""
        lines = [line for line in self.text.split("\n") if line.strip() and not is_chart_line(line)]
        head = f"{self.heading}\n" if self.heading else ""
        return head + "\n".join(lines)


_LEADING_BULLET = re.compile(rf"^[\s{re.escape(BULLETS)}・]+")


def clean_sentence(text: str) -> str:
    """A sentence as quoted: leading bullets and surrounding whitespace trimmed."""
    return _LEADING_BULLET.sub("", text).strip()


def sentence_texts(chunks: list[Chunk], min_chars: int = 8) -> list[str]:
    """Every distinct (cleaned) sentence of the chunks, in order: these get their own vectors."""
    seen: dict[str, None] = {}
    for chunk in chunks:
        for sentence in split_sentences(chunk.text):
            text = clean_sentence(sentence.text)
            if len(text) >= min_chars:
                seen.setdefault(text, None)
    return list(seen)


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with offsets: split at 。！？ and at line starts (bullets begin their own line)."""
    out = []
    for match in _SENTENCE.finditer(text):
        raw = match.group(0)
        if not raw.strip():
            continue
        lead = len(raw) - len(raw.lstrip())
        start, end = match.start() + lead, match.start() + len(raw.rstrip())
        out.append(Sentence(start=start, end=end, text=text[start:end]))
    return out


def _cut_long(sentence: Sentence, max_tokens: int) -> list[Sentence]:
    """A sentence over the limit is cut at 、 (or, failing that, by length)."""
    if count_tokens(sentence.text) <= max_tokens:
        return [sentence]
    pieces: list[Sentence] = []
    start = sentence.start
    buf = ""
    for part in re.findall(r"[^、,]*[、,]?", sentence.text):
        if not part:
            continue
        if buf and count_tokens(buf + part) > max_tokens:
            pieces.append(Sentence(start, start + len(buf), buf))
            start += len(buf)
            buf = ""
        buf += part
    if buf:
        pieces.append(Sentence(start, start + len(buf), buf))
    final: list[Sentence] = []
    step = max_tokens * 2  # roughly two characters per token in Japanese
    for piece in pieces:
        if count_tokens(piece.text) <= max_tokens:
            final.append(piece)
            continue
        for offset in range(0, len(piece.text), step):
            part = piece.text[offset : offset + step]
            final.append(Sentence(piece.start + offset, piece.start + offset + len(part), part))
    return final


def chunk_id(doc_id: str, page: int, text: str) -> str:
    """Stable id: document id + hash of the chunk's location and content."""
    digest = hashlib.sha1(f"{doc_id}\x00{page}\x00{text}".encode()).hexdigest()[:16]
    return f"{doc_id}:{digest}"


def split_segment(
    segment: Segment,
    doc_id: str,
    title: str,
    target_tokens: int = 220,
    max_tokens: int = 320,
    overlap: int = 1,
) -> list[Chunk]:
    """Greedy packing of whole sentences up to `target_tokens`, with `overlap` sentences carried over."""
    if target_tokens <= 0 or max_tokens < target_tokens:
        raise ValueError("target_tokens must be > 0 and max_tokens >= target_tokens")
    if overlap < 0:
        raise ValueError("overlap must be >= 0 (sentences carried into the next chunk)")
    sentences = [piece for s in split_sentences(segment.text) for piece in _cut_long(s, max_tokens)]
    if not sentences:
        return []
    sizes = [count_tokens(s.text) for s in sentences]
    groups: list[tuple[int, int]] = []  # [first, last) sentence index
    first = 0
    while first < len(sentences):
        last, total = first, 0
        while last < len(sentences) and (total < target_tokens or last == first):
            if last > first and total + sizes[last] > max_tokens:
                break
            total += sizes[last]
            last += 1
        groups.append((first, last))
        if last >= len(sentences):
            break
        first = max(last - overlap, first + 1)
    # A small tail joins the chunk before it when that stays under the limit.
    if len(groups) > 1:
        tail_first, tail_last = groups[-1]
        prev_first, _ = groups[-2]
        if (
            sum(sizes[tail_first:tail_last]) < target_tokens // 4
            and sum(sizes[prev_first:tail_last]) <= max_tokens
        ):
            groups[-2:] = [(prev_first, tail_last)]
    chunks = []
    for first, last in groups:
        start, end = sentences[first].start, sentences[last - 1].end
        text = segment.text[start:end]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(doc_id, segment.page, text),
                doc_id=doc_id,
                title=title,
                page=segment.page,
                heading=segment.heading,
                start=start,
                end=end,
                text=text,
                clause=segment.clause,
            )
        )
    return chunks
