"""Advice cards: curated, cited answers to the questions owners and support staff ask (bot/data/advice/).

One YAML file per card. Each sentence of a card's answer is either a verbatim `quote` or a `text` in
plain owner Japanese whose `cites` (verbatim corpus quotes) contain every content word and number it
uses; `python -m bot.cards` checks every card against the corpus and prints what is unsupported.
"""

from __future__ import annotations

import logging
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.catalog import DATA_DIR
from bot.grounding import is_verbatim, support
from ground.yamlfile import read_yaml
from ingest.normalize import compact, nfkc

log = logging.getLogger(__name__)

ADVICE_DIR = DATA_DIR / "advice"
ASKED_FILE = DATA_DIR / "asked.jsonl"
NO_CARD = "none"
CardKind = Literal["start", "topic", "agency", "clause", "region", "staff"]


class Claim(BaseModel):
    """One sentence of an answer: our words (`text`, supported by `cites`) or a verbatim `quote`."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    quote: str | None = None
    en: str | None = None  # English rendering, shown to English questions (quotes stay Japanese)
    cites: list[str] = Field(default_factory=list)
    # A yes/no question this sentence answers (a regular expression over the NFKC question): 「はい。」 or
    # 「いいえ。」 then the sentence, which says why (「一度やれば終わり？」→ いいえ。毎年診断を…).
    yes_if: str | None = None
    no_if: str | None = None
    # Said only where what the user said matches (a regular expression over the NFKC text), and then first:
    # an agency's reason for a need the owner named (「甥っ子が継いでくれそう」 → the bank and 事業承継).
    when: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Claim:
        for pattern in (self.yes_if, self.no_if, self.when):
            if pattern is not None:
                re.compile(pattern)
        if (self.text is None) == (self.quote is None):
            raise ValueError("a claim has exactly one of `text` (our words) or `quote` (verbatim)")
        if self.quote is not None and not self.cites:
            self.cites = [self.quote]
        if self.text is not None and not self.cites:
            raise ValueError(f"`text` needs `cites`: {self.text}")
        return self

    def applies(self, said: str) -> bool:
        """Is the sentence for this conversation (`said`: what the user said)? Only a `when` sentence may not be."""
        return self.when is None or re.search(self.when, nfkc(said), re.IGNORECASE) is not None

    @property
    def sentence(self) -> str:
        return self.text if self.text is not None else str(self.quote)


class Card(BaseModel):
    """A topic an owner or support staff asks about, answered in 2–5 grounded sentences."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    title_en: str
    kind: CardKind = "topic"
    questions: list[str] = Field(min_length=3)  # example questions: owner Japanese and English
    stages: list[int] = Field(default_factory=list)  # the stages it applies to (start cards)
    needs: list[str] = Field(default_factory=list)  # vocabulary of agencies.yaml `needs`
    # (2–5 said to everyone — tests/test_cards.py — plus the `when` sentences kept for particular questions)
    answer: list[Claim] = Field(min_length=1, max_length=10)
    steps: list[Claim] = Field(default_factory=list)  # concrete next steps, each an action
    not_covered: str | None = None  # what the guides do not say on this topic, said plainly
    not_covered_en: str | None = None
    ask_back: str | None = None  # one short question that lets the next answer be tailored
    ask_back_en: str | None = None
    related: list[str] = Field(default_factory=list)  # card ids for follow-ups
    agencies: list[str] = Field(default_factory=list)  # agency ids that fit, best first
    verbatim: bool = False  # a clause: `answer` is its whole text in reading order
    # How askers name the subject besides the title's words (a regular expression): 「総スカン」「紙でええやん」
    # name staff resistance as surely as 「抵抗」 does.
    cues: str | None = None
    # Reached only when the cues name its subject (「若い人も来るもんだべか」), never by resemblance alone: its
    # examples sound like many an owner's story (人手不足) that asks something else.
    cued_only: bool = False

    def claims(self) -> list[Claim]:
        return [*self.answer, *self.steps]

    def keeps_for(self, question: str) -> bool:
        """Is the question in the words of a sentence the card keeps for such questions (its `when`:
        「真似できる？」 after 後藤組)?"""
        return any(c.when is not None and c.applies(question) for c in self.answer)

    def gap(self, english: bool = False) -> str:
        """What the guides do not say on this topic, in English where the card has it (else Japanese)."""
        return (self.not_covered_en if english and self.not_covered_en else self.not_covered) or ""


def load_card(path: Path) -> Card:
    data = read_yaml(path)
    try:
        return Card(**data)
    except Exception as exc:  # pydantic.ValidationError or TypeError: name the file
        raise ValueError(f"{path.name}: {exc}") from exc


@lru_cache(maxsize=1)
def cards() -> tuple[Card, ...]:
    """Every advice card, in file-name order. A card file that does not load is skipped with a warning
    (tests/test_cards.py keeps the shipped cards valid); unknown related ids are dropped."""
    loaded: list[Card] = []
    for path in sorted(ADVICE_DIR.glob("*.yaml")):
        try:
            card = load_card(path)
        except ValueError as exc:
            log.warning("advice card skipped: %s", exc)
            continue
        if any(c.id == card.id for c in loaded):
            log.warning("advice card %s: duplicate id, skipped", path.name)
            continue
        loaded.append(card)
    known = {c.id for c in loaded}
    for card in loaded:
        card.related = [r for r in card.related if r in known]
    return tuple(loaded)


class AskedBefore(BaseModel):
    """A real owner's or supporter's message and the card that answers it (bot/data/asked.jsonl, written by
    `python -m evals.cards --export` from the labelled owner conversations)."""

    model_config = ConfigDict(extra="forbid")

    text: str
    card: str
    also: list[str] = Field(default_factory=list)  # other cards that would answer it too


@lru_cache(maxsize=1)
def asked_before() -> tuple[AskedBefore, ...]:
    """The labelled messages whose cards are in the deck, and those no card answers (`card: none`, outside
    the guides: they vote for nothing). A line that does not load is skipped."""
    known = {c.id for c in cards()} | {NO_CARD}
    out = []
    if not ASKED_FILE.is_file():
        return ()
    for n, raw in enumerate(ASKED_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = AskedBefore.model_validate_json(raw)
        except ValueError as exc:
            log.warning("%s line %d skipped: %s", ASKED_FILE.name, n, exc)
            continue
        if row.card in known:
            out.append(row.model_copy(update={"also": [a for a in row.also if a in known]}))
    return tuple(out)


def card_by_id(card_id: str) -> Card:
    return next(c for c in cards() if c.id == card_id)


def problems(card: Card, corpus: str) -> list[str]:
    """Why a card is not grounded: quotes not in the corpus (compacted), sentences their quotes don't support."""
    out = []
    for claim in card.claims():
        for quote in claim.cites:
            if compact(quote) not in corpus:
                out.append(f"引用がコーパスにない: 「{quote}」")
        if claim.quote is not None:
            if not is_verbatim(claim.quote, claim.cites):
                out.append(f"quote が cites の中にない: 「{claim.quote}」")
        else:
            result = support(claim.sentence, claim.cites)
            if not result.ok:
                out.append(f"裏付けのない語（{result.describe()}）: 「{claim.sentence}」")
    return out


def main(argv: list[str]) -> int:
    """`python -m bot.cards [corpus files…]`: list every problem of every card; exit 1 when any."""
    from ground.config import PROJECT_ROOT

    files = [Path(a) for a in argv] or sorted((PROJECT_ROOT / "corpus").glob("*.txt"))
    corpus = "\x00".join(compact(f.read_text(encoding="utf-8")) for f in files)
    failed = 0
    for path in sorted(ADVICE_DIR.glob("*.yaml")):
        try:
            card = load_card(path)
        except ValueError as exc:
            print(f"✗ {exc}")
            failed += 1
            continue
        found = problems(card, corpus)
        if found:
            failed += 1
            print(f"✗ {path.name}")
            for p in found:
                print(f"    {p}")
    total = len(list(ADVICE_DIR.glob("*.yaml")))
    print(f"{total - failed}/{total} 枚のカードが裏付けあり")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
