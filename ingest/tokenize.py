"""Japanese tokens for BM25 and chunk sizing (fugashi + unidic-lite), shared by index and query side."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from ingest.normalize import nfkc

if TYPE_CHECKING:
    import fugashi

TokenForm = Literal["surface", "base"]

# Parts of speech that carry no search meaning.
_DROP_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白"})


@lru_cache(maxsize=1)
def tagger() -> fugashi.Tagger:
    """The process-wide MeCab tagger (unidic-lite), loaded once."""
    import fugashi

    return fugashi.Tagger()


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
