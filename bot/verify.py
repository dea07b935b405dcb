"""Citation verifier for LLM answers: keep a sentence only when the passages it cites support it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol

from ingest.normalize import compact, nfkc
from ingest.tokenize import search_tokens

# Calibrated on the labelled set in tests/test_llm.py (supported quotes/paraphrases vs hallucinations).
SUPPORT_THRESHOLD = 0.63
# Weight of content-token recall against character-bigram recall in the support score.
TOKEN_WEIGHT = 0.6

REASON_SUPPORTED = "出典で裏付けあり"
REASON_NOT_CLAIM = "主張を含まない文"
REASON_NO_MARKER = "出典なし"
REASON_BAD_MARKER = "存在しない出典番号"
REASON_NUMBER = "数値が出典と一致しない"
REASON_WEAK = "出典の裏付けが弱い"
REASON_UNSAFE = "出典にない連絡先・URL・会社名"

# Sentences that say the passages do not cover something: honest, carry no claim, need no marker.
NO_INFO_PHRASES = ("資料には記載がありません", "資料に記載がありません", "資料には記載されていません")

# Light verbs and formal nouns that every sentence shares: counting them would reward any sentence.
_STOP_TOKENS = frozenset(
    {"する", "ある", "いる", "なる", "こと", "もの", "できる", "ため", "よう", "これ", "それ", "この", "その"}
    | {"等", "れる", "られる", "つく", "通ずる", "方", "上", "中"}
)
_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,、]\s*\d+)*)\s*\]")
_MARKER_RUN = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,、]\s*\d+)*\s*\])+")
# A sentence runs to its closing punctuation plus any markers right after it (「…です。[1][2]」).
_SENTENCE = re.compile(r"[^。！？!?]+(?:[。！？!?]+(?:\s*\[\s*\d+(?:\s*[,、]\s*\d+)*\s*\])*|$)|[。！？!?]+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_SENTENCE_END = re.compile(r"[。！？!?]")
_BOLD_LABEL = re.compile(r"^\s*\*\*[^*]+\*\*\s*[:：]?\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_LIST_PREFIX = re.compile(r"^(\s*(?:[-*+]\s+|\d{1,2}[.)）]\s+|[・•①-⑳]\s*))")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Things a compromised model could slip in to steer an owner: links, e-mail addresses, phone numbers and
# company names. A sentence keeps one only when its cited passages hold it verbatim.
_UNSAFE = re.compile(
    r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+|\d{2,4}\s*-\s*\d{2,4}\s*-\s*\d{3,4}|0\d{1,4}-[\d…-]*"
    r"|(?:株式会社|有限会社|合同会社)\s*[^\s、。，,（(「」)）]{1,20}|[^\s、。，,（(「」)）]{1,20}(?:株式会社|有限会社|合同会社)"
)
_LABEL_CHARS = 24  # a heading or bold label longer than this carries a claim and is checked as one


class HasQuote(Protocol):
    """Anything with the verbatim passage text, such as `bot.schemas.Citation`."""

    @property
    def quote(self) -> str: ...


@dataclass(frozen=True)
class VerifiedSentence:
    """One sentence of the answer with the verifier's decision."""

    sentence: str
    markers: tuple[int, ...]
    support: float
    reason: str
    claim: bool = True


@dataclass(frozen=True)
class VerifiedAnswer:
    """The answer with unsupported sentences removed; `kept`/`dropped` say why for each sentence."""

    text: str
    kept: list[VerifiedSentence] = field(default_factory=list)
    dropped: list[VerifiedSentence] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text

    @property
    def is_empty(self) -> bool:
        """True when no sentence carrying a claim survived."""
        return not any(s.claim for s in self.kept)

    @property
    def markers(self) -> list[int]:
        """Passage numbers cited by the kept sentences, ascending."""
        return sorted({n for s in self.kept for n in s.markers})


def compact_answer_is_empty(answer: VerifiedAnswer) -> bool:
    """True when nothing with a claim survived verification."""
    return answer.is_empty


def parse_markers(sentence: str) -> tuple[int, ...]:
    """The `[n]` markers of a sentence in order, without repeats (`[1, 3]` counts as 1 and 3)."""
    seen: list[int] = []
    for match in _MARKER.finditer(nfkc(sentence)):
        for part in re.split(r"[,、]", match.group(1)):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return tuple(seen)


def strip_markers(sentence: str) -> str:
    """The sentence without its `[n]` markers."""
    return _MARKER_RUN.sub("", nfkc(sentence)).strip()


def split_sentences(line: str, normalize: bool = True) -> list[str]:
    """Split one line at 。！？ keeping the markers that follow the punctuation with their sentence (NFKC
    first, unless `normalize` is off: then the sentences are as written)."""
    text = nfkc(line) if normalize else line
    return [s for s in (m.group(0) for m in _SENTENCE.finditer(text)) if s.strip()]


def is_structural(line: str) -> bool:
    """Headings, bold labels and rules: short ones carry no claim and are kept as they are."""
    if _RULE.match(line):
        return True
    if not (_HEADING.match(line) or _BOLD_LABEL.match(line)):
        return False
    label = label_text(line)
    return len(label) <= _LABEL_CHARS and not _UNSAFE.search(nfkc(label)) and not _SENTENCE_END.search(label)


def label_text(line: str) -> str:
    """A heading's or bold label's words, without its #, ** and closing colon."""
    return line.strip().lstrip("#").strip().strip("*").rstrip(":：").strip()


def unsafe_parts(text: str) -> list[str]:
    """The links, addresses, phone numbers and company names written in `text`."""
    return [m.group(0) for m in _UNSAFE.finditer(nfkc(text))]


def content_tokens(text: str) -> set[str]:
    """Content words (fugashi base forms) minus light verbs and formal nouns."""
    return {t for t in search_tokens(text) if t not in _STOP_TOKENS and not t.isspace()}


def _letters(text: str) -> str:
    """NFKC, lowercase, no whitespace, punctuation or symbols: the string bigrams are taken from."""
    return "".join(ch for ch in compact(text).lower() if unicodedata.category(ch)[0] in "LN")


def _bigrams(text: str) -> set[str]:
    letters = _letters(text)
    return {letters[i : i + 2] for i in range(len(letters) - 1)}


def numbers_in(text: str) -> set[Decimal]:
    """Numbers written in digits (「1,013社」→1013, 「1.30%」→1.3), NFKC applied."""
    out: set[Decimal] = set()
    for raw in _NUMBER.findall(nfkc(text)):
        value = raw.replace(",", "")
        try:
            out.add(Decimal(value).normalize())
        except InvalidOperation:
            continue
    return out


def support_score(sentence: str, evidence: str) -> float:
    """How much of the sentence (markers removed) is found in the evidence, 0..1.

    Weighted mean of content-token recall (paraphrases) and character-bigram recall (quotes and
    words the tokenizer splits differently).
    """
    body = strip_markers(sentence)
    tokens = content_tokens(body)
    grams = _bigrams(body)
    if not tokens and not grams:
        return 0.0
    token_recall = len(tokens & content_tokens(evidence)) / len(tokens) if tokens else 0.0
    gram_recall = len(grams & _bigrams(evidence)) / len(grams) if grams else 0.0
    if not tokens:
        return gram_recall
    return TOKEN_WEIGHT * token_recall + (1 - TOKEN_WEIGHT) * gram_recall


def _is_no_info(body: str) -> bool:
    return any(phrase in body for phrase in NO_INFO_PHRASES)


def _canonical(sentence: str, markers: tuple[int, ...]) -> str:
    """The sentence with its markers moved to the end as `[1][3]`."""
    return strip_markers(sentence) + "".join(f"[{n}]" for n in markers)


def check_sentence(
    sentence: str, passages: Mapping[int, HasQuote], threshold: float = SUPPORT_THRESHOLD
) -> VerifiedSentence:
    """Decide one sentence: kept when every marker exists, its numbers are cited and support ≥ threshold."""
    markers = parse_markers(sentence)
    body = strip_markers(sentence)
    text = _canonical(sentence, markers)
    cited = "\n".join(passages[n].quote for n in markers if n in passages)
    if any(compact(part) not in compact(cited) for part in unsafe_parts(body)):
        return VerifiedSentence(text, markers, 0.0, REASON_UNSAFE)
    if not markers:
        if _is_no_info(body) or not _letters(body):
            return VerifiedSentence(text, markers, 0.0, REASON_NOT_CLAIM, claim=False)
        return VerifiedSentence(text, markers, 0.0, REASON_NO_MARKER)
    if any(n not in passages for n in markers):
        return VerifiedSentence(text, markers, 0.0, REASON_BAD_MARKER)
    evidence = "\n".join(passages[n].quote for n in markers)
    score = round(support_score(body, evidence), 3)
    if not numbers_in(body) <= numbers_in(evidence):
        return VerifiedSentence(text, markers, score, REASON_NUMBER)
    if score < threshold:
        return VerifiedSentence(text, markers, score, REASON_WEAK)
    return VerifiedSentence(text, markers, score, REASON_SUPPORTED)


def _heading_level(line: str) -> int:
    stripped = line.strip()
    return len(stripped) - len(stripped.lstrip("#")) if _HEADING.match(line) else 7


def _prune_empty_sections(lines: list[tuple[str, str]]) -> list[str]:
    """Drop headings and labels whose section lost all its sentences (a heading alone says nothing)."""
    out: list[str] = []
    for i, (line, kind) in enumerate(lines):
        if kind != "struct" or _RULE.match(line):
            out.append(line)
            continue
        level = _heading_level(line)
        for later, later_kind in lines[i + 1 :]:
            if later_kind == "sentences":
                out.append(line)
                break
            if later_kind == "struct" and _heading_level(later) <= level:
                break
    return out


def verify_answer(
    answer: str, passages: Mapping[int, HasQuote], threshold: float = SUPPORT_THRESHOLD
) -> VerifiedAnswer:
    """Check every sentence of `answer` against the passages its `[n]` markers cite.

    Short headings and labels are kept as they are; a longer one (or one with a link, phone number or
    company name) is checked like any sentence. A claim is dropped when it has no marker, cites a
    passage that does not exist, states a number the cited passages do not hold, carries a link,
    address, phone number or company name its passages do not, or its support is below `threshold`. Markers are kept (moved to the sentence end), never renumbered.
    """
    kept: list[VerifiedSentence] = []
    dropped: list[VerifiedSentence] = []
    lines: list[tuple[str, str]] = []  # (text, kind): kind is "blank", "struct" or "sentences"
    for raw_line in nfkc(answer).replace("\r\n", "\n").split("\n"):
        line = raw_line.rstrip()
        if not line.strip():
            lines.append(("", "blank"))
            continue
        if is_structural(line):
            lines.append((_MARKER_RUN.sub("", line).rstrip(), "struct"))
            continue
        # A heading or label too long (or too specific) to be a label is a claim like any other line.
        if _HEADING.match(line) or _BOLD_LABEL.match(line):
            line = label_text(line)
        prefix_match = _LIST_PREFIX.match(line)
        prefix = prefix_match.group(1) if prefix_match else ""
        kept_parts: list[str] = []
        for sentence in split_sentences(line[len(prefix) :]):
            verdict = check_sentence(sentence.strip(), passages, threshold)
            if verdict.reason in (REASON_SUPPORTED, REASON_NOT_CLAIM):
                kept.append(verdict)
                kept_parts.append(verdict.sentence)
            else:
                dropped.append(verdict)
        if kept_parts:
            lines.append((prefix + "".join(kept_parts), "sentences"))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(_prune_empty_sections(lines))).strip()
    return VerifiedAnswer(text=text, kept=kept, dropped=dropped)
