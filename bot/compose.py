"""Extractive answers: pick the sentences that answer the question and cite each one verbatim."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bot.grounding import tokens_in_order
from bot.schemas import Citation
from ingest.normalize import BULLETS, compact, is_chart_line, nfkc
from ingest.split import Chunk, clean_sentence, split_sentences
from ingest.tokenize import search_tokens

_BULLET_START = re.compile(rf"^\s*[{re.escape(BULLETS)}・]")
_SOURCE_NOTE = re.compile(r"^[(（]?(出典|出所|資料|注)[)）:：]|^※|https?://|ご清聴|ありがとうございました")
_DIGIT = re.compile(r"\d")
# Generic words that say nothing about which passage answers.
_STOP = frozenset(
    {
        "dx",
        "する",
        "ある",
        "いる",
        "なる",
        "こと",
        "もの",
        "よう",
        "ため",
        "どう",
        "何",
        "なに",
        "いい",
        "良い",
        "よい",
        "教える",
        "知る",
        "思う",
        "ください",
        "です",
        "ます",
        "ない",
        "とは",
        "について",
        # How an owner asks (「誰かに推薦してもらえば」「どこが入ってる？」), not what about.
        "誰",
        "どこ",
        "入る",
        "だれ",
        "もらう",
        "くれる",
        # How the answer should be shown (「原文どおりの見出しで並べて」), not what it is about.
        "原文",
        "見出し",
        "並べる",
        "引用",
        "正確",
        "一字一句",
        "表現",
        "文言",
        "そのまま",
    }
)


@dataclass(frozen=True)
class Candidate:
    """A sentence of an indexed chunk that may be quoted."""

    chunk: Chunk
    text: str  # verbatim from the chunk, bullets and whitespace trimmed
    tokens: frozenset[str]
    position: int
    row: int  # row of its vector in SentencePool.vectors
    heading_tokens: frozenset[str] = frozenset()
    figure: bool = False  # a chart label with its value, e.g. 「段階4(DX):6.9%」


_FIGURE = re.compile(r"^[^。]{2,40}[:：]\s*[\d.,]+\s*(%|％|社|件|円|倍|地域|人)")


def is_figure(text: str) -> bool:
    """A chart label and its value on one line (「段階4(DX):6.9%」): quotable for figure questions."""
    return bool(_FIGURE.match(text))


def is_quotable(raw: str, text: str) -> bool:
    """Whole statements only: no chart values, source notes, rows of table labels or fragments."""
    if len(text) < 12 or is_chart_line(text) or _SOURCE_NOTE.search(text):
        return False
    # Without a full stop or a bullet, short lines, lines with spaces and "(1/3)" are slide titles or
    # rows of table labels, not statements.
    unfinished = not text.endswith(("。", "！", "？")) and not _BULLET_START.match(raw)
    if unfinished and (len(text) <= 25 or " " in text or re.search(r"\(\d+/\d+\)", text)):
        return False
    hiragana = sum(1 for ch in text if "\u3040" <= ch <= "\u309f")
    return hiragana >= 3


class SentencePool:
    """Every quotable sentence of the index with its tokens and vector, and IDF weights over chunks."""

    def __init__(
        self,
        chunks: list[Chunk],
        embed: Callable[[list[str]], np.ndarray] | None = None,
        known: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.by_chunk: dict[str, list[Candidate]] = {}
        df: Counter[str] = Counter()
        rows: dict[str, int] = {}
        for chunk in chunks:
            df.update(set(search_tokens(chunk.embed_text)))
            cands = []
            heading_tokens = frozenset(search_tokens(chunk.heading or ""))
            for pos, sentence in enumerate(split_sentences(chunk.text)):
                text = clean_sentence(sentence.text)
                figure = is_figure(text)
                if is_quotable(sentence.text, text) or figure:
                    row = rows.setdefault(text, len(rows))
                    tokens = frozenset(search_tokens(text))
                    cands.append(Candidate(chunk, text, tokens, pos, row, heading_tokens, figure))
            self.by_chunk[chunk.chunk_id] = cands
        n = max(len(chunks), 1)
        self.idf = {t: math.log((n - f + 0.5) / (f + 0.5) + 1.0) for t, f in df.items()}
        self.default_idf = math.log(n + 1.0)
        self.compact_chunks = [(chunk, compact(chunk.text)) for chunk in chunks]
        self._compact_by_id = {chunk.chunk_id: text for chunk, text in self.compact_chunks}
        self.texts = list(rows)
        self.vectors = self._vectors(known or {}, embed)

    def _vectors(
        self, known: dict[str, np.ndarray], embed: Callable[[list[str]], np.ndarray] | None
    ) -> np.ndarray | None:
        """Sentence vectors from the index build; only sentences it lacks are embedded here."""
        missing = [t for t in self.texts if t not in known]
        if missing and embed is None:
            return None
        fresh = dict(zip(missing, embed(missing), strict=True)) if missing and embed is not None else {}
        if not self.texts:
            return None
        return np.vstack([known[t] if t in known else fresh[t] for t in self.texts]).astype(np.float32)

    def weights(self, query: str, expansions: list[str] | None = None) -> dict[str, float]:
        """Query term weights: IDF, generic words dropped; expansions count half."""
        out: dict[str, float] = {}
        for token in tokens_in_order(query):
            if token not in _STOP:
                out[token] = self.idf.get(token, self.default_idf)
        for extra in expansions or []:
            for token in tokens_in_order(extra):
                if token not in _STOP and token not in out:
                    out[token] = 0.5 * self.idf.get(token, self.default_idf)
        return out

    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        return next((chunk for chunk, _ in self.compact_chunks if chunk.chunk_id == chunk_id), None)

    def find_chunk(self, quote: str, prefer: list[Chunk] | None = None) -> Chunk | None:
        """The indexed chunk that holds a quote verbatim (preferring the given chunks)."""
        needle = compact(quote)
        for chunk in prefer or []:
            text = self._compact_by_id.get(chunk.chunk_id)
            if needle in (text if text is not None else compact(chunk.text)):
                return chunk
        for chunk, text in self.compact_chunks:
            if needle in text:
                return chunk
        return None


RANK_PRIOR = 0.25
HEADING_WEIGHT = 1.0
DENSE_WEIGHT = 2.0
DENSE_FLOOR = 0.78  # e5 cosine similarities sit in a narrow band; only the part above this counts


def score(
    cand: Candidate, weights: dict[str, float], rank: int, want_digits: bool, similarity: float | None = None
) -> float:
    total = sum(weights.values()) or 1.0
    overlap = sum(w for t, w in weights.items() if t in cand.tokens) / total
    # Words matched only by the slide title count for less: the sentence is on topic, not the answer.
    overlap += (
        HEADING_WEIGHT
        * sum(w for t, w in weights.items() if t in cand.heading_tokens and t not in cand.tokens)
        / total
    )
    value = overlap + RANK_PRIOR / (1 + rank) + (0.15 if want_digits and _DIGIT.search(cand.text) else 0.0)
    if similarity is not None:
        value += DENSE_WEIGHT * max(0.0, similarity - DENSE_FLOOR)
    # A finished sentence reads better than a slide fragment.
    return value + (0.1 if cand.text.endswith("。") else 0.0)


def near_duplicate(a: str, b: str) -> bool:
    """Near-duplicates by character-bigram Jaccard (decks repeat sentences across slides)."""
    ga = {a[i : i + 2] for i in range(len(a) - 1)}
    gb = {b[i : i + 2] for i in range(len(b) - 1)}
    return bool(ga and gb) and len(ga & gb) / len(ga | gb) > 0.6


def select_sentences(
    pool: SentencePool,
    chunks: list[Chunk],
    weights: dict[str, float],
    n: int,
    want_digits: bool = False,
    exclude: list[str] | None = None,
    min_overlap: float = 0.0,
    query_vector: np.ndarray | None = None,
) -> list[Candidate]:
    """The `n` best sentences from the ranked chunks, without near-duplicates."""
    scored: list[tuple[float, Candidate]] = []
    total = sum(weights.values()) or 1.0
    sims = pool.vectors @ query_vector if pool.vectors is not None and query_vector is not None else None
    for rank, chunk in enumerate(chunks):
        for cand in pool.by_chunk.get(chunk.chunk_id, []):
            if cand.figure and not want_digits:
                continue
            overlap = sum(w for t, w in weights.items() if t in cand.tokens) / total
            if overlap < min_overlap:
                continue
            sim = float(sims[cand.row]) if sims is not None else None
            scored.append((score(cand, weights, rank, want_digits, sim), cand))
    scored.sort(key=lambda item: item[0], reverse=True)
    chosen: list[Candidate] = []
    taken = list(exclude or [])
    for _, cand in scored:
        if any(near_duplicate(cand.text, other) for other in taken):
            continue
        chosen.append(cand)
        taken.append(cand.text)
        if len(chosen) >= n:
            break
    return chosen


def citation_for(
    chunk: Chunk, n: int, quote: str, url: str | None = None, superseded_by: str | None = None
) -> Citation:
    """Citation number `n` quoting `quote` from `chunk`, with the chunk's document, page and heading (and
    the current version's title when the chunk's document is an old one)."""
    return Citation(
        n=n,
        chunk_id=chunk.chunk_id,
        doc_id=chunk.doc_id,
        title=chunk.title,
        page=chunk.page,
        heading=chunk.heading,
        quote=quote,
        url=url,
        superseded_by=superseded_by,
    )


@dataclass
class CitationBook:
    """Numbers citations in order of first use; the same quote from the same chunk keeps its number."""

    urls: dict[str, str | None] = field(default_factory=dict)
    newer: dict[str, str] = field(default_factory=dict)  # old document id → the current version's title
    citations: list[Citation] = field(default_factory=list)
    mapping: dict[int, int] = field(default_factory=dict)  # old → new numbers of the last renumber

    def cite(self, chunk: Chunk, quote: str) -> int:
        for c in self.citations:
            if c.chunk_id == chunk.chunk_id and c.quote == quote:
                return c.n
        n = len(self.citations) + 1
        self.citations.append(
            citation_for(chunk, n, quote, self.urls.get(chunk.doc_id), self.newer.get(chunk.doc_id))
        )
        return n

    def get(self, n: int) -> Citation:
        return next(c for c in self.citations if c.n == n)

    def prune(self, text: str) -> None:
        """Forget citations the text never cites (call after `renumber`: the rest keep their numbers)."""
        used = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
        self.citations = [c for c in self.citations if c.n in used]

    def renumber(self, text: str) -> str:
        """Number citations in the order the text first cites them (the rest after), and rewrite markers.

        Citation objects are shared with agencies and the stage, so they see the new numbers too; other
        texts that carry markers (an agency's reason) go through `rewrite` afterwards.
        """
        order: dict[int, None] = {}
        for marker in re.findall(r"\[(\d+)\]", text):
            if any(c.n == int(marker) for c in self.citations):
                order.setdefault(int(marker), None)
        for c in self.citations:
            order.setdefault(c.n, None)
        self.mapping = {old: new for new, old in enumerate(order, start=1)}
        for c in self.citations:
            c.n = self.mapping[c.n]
        self.citations.sort(key=lambda c: c.n)
        return self.rewrite(text)

    def rewrite(self, text: str) -> str:
        """Markers in `text` in the numbering of the last `renumber`."""
        return re.sub(r"\[(\d+)\]", lambda m: f"[{self.mapping.get(int(m.group(1)), int(m.group(1)))}]", text)


def quote_line(text: str, n: int) -> str:
    """A quoted claim as it appears in the answer: the sentence followed by its marker."""
    return f"{nfkc(text)}[{n}]"


def sources_section(book: CitationBook) -> str:
    """One line per place cited: consecutive citations of the same slide share a line (「[1][2] … p.16」)."""
    if not book.citations:
        return ""
    lines = ["### 参考資料"]
    groups: list[tuple[list[int], Citation]] = []
    for c in book.citations:
        last = groups[-1][1] if groups else None
        if last is not None and (last.title, last.page, last.heading) == (c.title, c.page, c.heading):
            groups[-1][0].append(c.n)
        else:
            groups.append(([c.n], c))
    for numbers, c in groups:
        where = f"スライド/ページ {c.page}" if c.page is not None else ""
        heading = f"「{c.heading}」" if c.heading else ""
        marks = "".join(f"[{n}]" for n in numbers)
        old = f"（{c.old_version_note}）" if c.superseded_by else ""
        lines.append(f"- {marks} {c.title} {where} {heading}".rstrip() + old)
    return "\n".join(lines)
