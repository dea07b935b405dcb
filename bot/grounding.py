"""Per-sentence grounding: is a sentence supported by the quotes it cites?

A quoted sentence must stand verbatim inside one of its quotes. A sentence written in our own words
(an advice card's sentence, an LLM's sentence) must use only words the quotes use: every content word
(nouns, verbs, adjectives as MeCab lemmas) and every number must be found in them. Only the framing an
adviser adds around a claim (「まず」「おすすめ」「資料」…) is exempt; the list is short on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from bot.verify import is_structural, parse_markers, split_sentences, strip_markers
from ingest.normalize import compact, nfkc
from ingest.tokenize import search_tokens

# Words that frame a claim without adding to it: politeness, "first", "the guides say", "you/your company".
FRAMING = frozenset(
    {
        "する",
        "ある",
        "いる",
        "なる",
        "できる",
        "出来る",
        "こと",
        "もの",
        "ため",
        "よう",
        "ところ",
        "まず",
        "まずは",
        "次",
        "一歩",
        "最初",
        "おすすめ",
        "すすめる",
        "勧める",
        "御",
        "ご",
        "お",
        "方",
        "場合",
        "とき",
        "考える",
        "説明",
        "例",
        "あたる",
        "当たる",
        "時",
        "ください",
        "下さる",
        "くださる",
        "資料",
        "記載",
        "書く",
        "述べる",
        "いう",
        "言う",
        "御社",
        "貴社",
        "皆さん",
        "そう",
        "これ",
        "それ",
        "その",
        "この",
        "ここ",
        "どう",
        "何",
        "なに",
        "どれ",
        "いい",
        "良い",
        "よい",
        "また",
        "さらに",
        "特に",
        "ぜひ",
        "是非",
        "一緒",
        "ない",
        "無い",
    }
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_KANA_ONLY = re.compile(r"^[ぁ-ゖー]$")


@lru_cache(maxsize=4096)
def tokens_in_order(text: str) -> tuple[str, ...]:
    """The search tokens of a text, cached: card sentences and quotes repeat across answers."""
    return tuple(search_tokens(text))


def tokens_of(text: str) -> frozenset[str]:
    return frozenset(tokens_in_order(text))


@lru_cache(maxsize=8192)
def content_words(text: str) -> tuple[str, ...]:
    """The words a sentence claims something with (lemmas, framing and single kana left out)."""
    out: list[str] = []
    for token in tokens_in_order(text):
        if token in FRAMING or _KANA_ONLY.match(token) or not token.strip() or _NUMBER.fullmatch(token):
            continue
        if token not in out:
            out.append(token)
    return tuple(out)


def numbers(text: str) -> list[str]:
    """Every number written in the sentence (「1.30%」→「1.30」, 「7,000名」→「7000」)."""
    return [n.replace(",", "") for n in _NUMBER.findall(nfkc(text))]


@dataclass(frozen=True)
class Support:
    """What a sentence's quotes lack: an empty result means the sentence is supported."""

    missing_words: list[str] = field(default_factory=list)
    missing_numbers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing_words and not self.missing_numbers

    def describe(self) -> str:
        parts = []
        if self.missing_words:
            parts.append("語: " + "・".join(self.missing_words))
        if self.missing_numbers:
            parts.append("数: " + "・".join(self.missing_numbers))
        return "、".join(parts) or "裏付けあり"


def support(sentence: str, quotes: Sequence[str]) -> Support:
    """Which content words and numbers of an authored sentence its quotes do not contain."""
    if not quotes:
        return Support(list(content_words(sentence)) or ["(出典なし)"], numbers(sentence))
    joined = "\n".join(quotes)
    quote_tokens = set().union(*(tokens_of(q) for q in quotes))
    flat = compact(joined).lower()
    missing = [w for w in content_words(sentence) if w not in quote_tokens and compact(w) not in flat]
    digits = compact(joined).replace(",", "")
    missing_numbers = [n for n in numbers(sentence) if n not in digits]
    return Support(missing, missing_numbers)


def is_verbatim(sentence: str, quotes: Sequence[str]) -> bool:
    """A quoted sentence is verbatim inside one of its quotes (whitespace and NFKC aside)."""
    needle = compact(strip_markers(sentence))
    return bool(needle) and any(needle in compact(q) for q in quotes)


_JAPANESE_OF = re.compile(r"[（(]日本語:\s*(.+)[）)]\s*$")
_BOLD_LABEL = re.compile(r"^\*\*[^*]+\*\*\s*[:：]\s*")  # 「**地域金融機関**: 」 names what follows
_LEADING_LIST = re.compile(r"^\s*(?:[-*+]\s+|\d{1,2}[.)）]\s+)")


@dataclass(frozen=True)
class SentenceCheck:
    """One cited sentence of an answer and whether its cited quotes support it."""

    sentence: str
    markers: tuple[int, ...]
    grounded: bool
    why: str


def check_sentence(sentence: str, quotes: Mapping[int, str]) -> SentenceCheck:
    """Verbatim inside a cited quote, or every content word and number found in the cited quotes.

    An English rendering carries the Japanese it renders (「…（日本語: 原文）[1]」): that is what is checked.
    """
    numbers_cited = parse_markers(sentence)
    if any(n not in quotes for n in numbers_cited):
        return SentenceCheck(sentence, numbers_cited, False, "存在しない出典番号")
    cited = [quotes[n] for n in numbers_cited]
    text = strip_markers(sentence)
    rendered = _JAPANESE_OF.search(text)
    if rendered:
        text = rendered.group(1)
    text = _BOLD_LABEL.sub("", _LEADING_LIST.sub("", text))
    if is_verbatim(text, cited):
        return SentenceCheck(sentence, numbers_cited, True, "引用どおり")
    result = support(text, cited)
    return SentenceCheck(sentence, numbers_cited, result.ok, result.describe())


def check_answer(body: str, quotes: Mapping[int, str]) -> list[SentenceCheck]:
    """Every sentence of an answer body that carries a `[n]` marker, checked against its quotes."""
    out = []
    # Checked in NFKC (「（」 and 「(」 alike), reported as written, so that the answer keeps its own characters.
    for line in body.splitlines():
        if not line.strip() or is_structural(nfkc(line)):
            continue
        prefix = _LEADING_LIST.match(line)
        for sentence in split_sentences(line[prefix.end() if prefix else 0 :], normalize=False):
            if parse_markers(sentence):
                check = check_sentence(nfkc(sentence.strip()), quotes)
                out.append(replace(check, sentence=sentence.strip()))
    return out
