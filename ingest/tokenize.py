"""Japanese tokens for BM25 and chunk sizing (fugashi + unidic-lite), shared by index and query side."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from ingest.normalize import nfkc

if TYPE_CHECKING:
    import fugashi

TokenForm = Literal["surface", "base"]

# Parts of speech that carry no search meaning.
_DROP_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白"})


_local = threading.local()


def tagger() -> fugashi.Tagger:
    """This thread's MeCab tagger (unidic-lite). MeCab taggers must not be shared between threads:
    concurrent parses on one tagger return wrong tokens (API requests run in a thread pool)."""
    tag = getattr(_local, "tagger", None)
    if tag is None:
        import fugashi

        tag = _local.tagger = fugashi.Tagger()
    return tag


# MeCab crashes the process (SIGSEGV) on a run of a few megabytes without a line end, and needs about
# 0.5 GB per megabyte: every parse sees at most this many characters.
MAX_PARSE_CHARS = 4096
_CUT_AFTER = "。！？\n 、，,"


def pieces(text: str, limit: int = MAX_PARSE_CHARS) -> Iterator[str]:
    """`text` in pieces of at most `limit` characters, cut after a sentence end, newline, space or 、 where
    one lies in the second half of the piece (otherwise at the limit)."""
    start = 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind(c) for c in _CUT_AFTER) + 1
        if cut <= limit // 2:
            cut = limit
        yield window[:cut]
        start += cut
    if start < len(text):
        yield text[start:]


def _parse(text: str) -> Iterator[Any]:
    """MeCab's words for `text`, parsed piece by piece (bounded input to native code)."""
    tag = tagger()
    for piece in pieces(text):
        yield from tag(piece)


def count_tokens(text: str) -> int:
    """Number of morphemes: the unit chunk sizes are measured in."""
    return sum(1 for _ in _parse(text))


def search_tokens(text: str, form: TokenForm = "base") -> list[str]:
    """NFKC + lowercase tokens without particles, auxiliaries and symbols, for BM25."""
    out: list[str] = []
    for word in _parse(nfkc(text).lower()):
        feature = word.feature
        if feature.pos1 in _DROP_POS:
            continue
        token = word.surface
        if form == "base":
            base = getattr(feature, "orthBase", None)
            if base and base != "*":
                token = base.lower()
        out.append(token)
    return out
