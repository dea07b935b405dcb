"""A clause's own text from the full guides (「柱3-2」 in デジタルガバナンス・コード3.0), when they are indexed.

The bundled overview quotes only 抜粋 of each clause; a full guide fetched with `dxnavi corpus fetch` has
the whole of it, and ingest marks each of its passages with the clause id. A clause answer then quotes
the guide itself, in reading order, from the current version (an old one only when no current one has it).
"""

from __future__ import annotations

import re

from bot.compose import CitationBook
from bot.retrieve import SearchIndex
from ingest.normalize import nfkc
from ingest.split import clean_sentence, split_sentences
from ingest.structure import is_clause_heading

MAX_SENTENCES = 12
_CARD = re.compile(r"dgc-(pillar|viewpoint)-(\d(?:-\d)?)")
# Which part of a clause a question asks for, as the guides head them.
_PARTS = {
    "基本的事項": re.compile(r"基本的事項|基本"),
    "柱となる考え方": re.compile(r"柱となる考え方|考え方|principle"),
    "望ましい方向性": re.compile(r"望ましい方向性|方向性|desirable|direction"),
    "取組例": re.compile(r"取組例|取り組み例|事例|example"),
}
_ASIDE = re.compile(r"^(?:注\s*[\d\-]+\s*[:：]|※\s*\d)|.+ / .+ / ")  # footnotes and table rows


def clause_of_card(card_id: str) -> str | None:
    """dgc-pillar-3-2 → 柱3-2, dgc-viewpoint-2 → 視点② (the ids ingest gives the guides' passages)."""
    match = _CARD.fullmatch(card_id)
    if match is None:
        return None
    kind, key = match.groups()
    return f"柱{key}" if kind == "pillar" else f"視点{'①②③'[int(key) - 1]}"


def guide_clause_section(
    index: SearchIndex, card_id: str, question: str, verbatim: bool, book: CitationBook, english: bool = False
) -> str:
    """「### デジタルガバナンス・コード3.0 の本文（柱3-2）」 and the clause's sentences, each cited; only the
    part asked for (「望ましい方向性は？」) unless the whole clause is asked for. Empty without a full guide."""
    ref = clause_of_card(card_id)
    chunks = [index.by_id[i] for i in index.by_clause.get(ref or "", [])]
    if not chunks:
        return ""
    current = [c for c in chunks if c.doc_id not in index.newer] or chunks
    chunks = [c for c in current if c.doc_id == current[0].doc_id]
    asked = [part for part, words in _PARTS.items() if words.search(nfkc(question))]
    if asked and not verbatim:
        chunks = [c for c in chunks if any(f"（{part}）" in (c.heading or "") for part in asked)] or chunks
    seen: set[str] = set()
    lines: list[str] = []
    for chunk in sorted(chunks, key=lambda c: (c.page, c.start)):
        for sentence in split_sentences(chunk.text):
            text = clean_sentence(sentence.text)
            if not text or text in seen or is_clause_heading(text) or _ASIDE.match(text):
                continue  # overlap between chunks, a heading line, a footnote or a table
            seen.add(text)
            if len(lines) < MAX_SENTENCES:
                lines.append(f"- {text}[{book.cite(chunk, text)}]")
    if not lines:
        return ""
    title = chunks[0].title
    more = len(seen) - len(lines)
    head = f"### {title}: {ref}" if english else f"### {title} の本文（{ref}）"
    tail = ""
    if more > 0:
        tail = (
            f"\n（ほかに {more} 文あります。p.{chunks[-1].page} までの本文をご覧ください。）"
            if not english
            else f"\n({more} more sentences; see the guide up to p.{chunks[-1].page}.)"
        )
    return head + "\n" + "\n".join(lines) + tail
