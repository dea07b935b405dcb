"""Japanese tokens for BM25 and chunk sizing (fugashi + unidic-lite), shared by index and query side."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Literal

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


def count_tokens(text: str) -> int:
    """Number of morphemes: the unit chunk sizes are measured in."""
    return len(tagger()(text))


def search_tokens(text: str, form: TokenForm = "base") -> list[str]:
    """NFKC + lowercase tokens without particles, auxiliaries and symbols, for BM25."""
    out: list[str] = []
    for word in tagger()(nfkc(text).lower()):
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
