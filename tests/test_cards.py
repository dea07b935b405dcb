"""The advice cards stay grounded: every quote is verbatim in the corpus and every sentence we wrote
is supported by the quotes it cites (content words and numbers), checked with bot.grounding."""

from __future__ import annotations

from functools import cache

import pytest

from bot.agencies import NEED_CUES
from bot.cards import ADVICE_DIR, Card, cards, load_card, problems
from bot.catalog import agencies
from bot.grounding import content_words, support
from ground.config import PROJECT_ROOT
from ingest.normalize import compact

NEEDS = set(NEED_CUES)  # the needs vocabulary of the agency matcher
# The agency card that gives each agency type's reason: its first sentence must cite a quote naming it.
AGENCY_NAMES = {
    "agency-bank": ["金融機関", "銀行"],
    "agency-it-vendor": ["ITベンダー", "DXベンダー"],
    "agency-consultant": ["コンサルタント", "ITコーディネータ"],
    "agency-chamber": ["商工会"],
    "agency-professional": ["士業", "税理士", "公認会計士"],
    "agency-saas": ["SaaS"],
    "regional-dx-lab": ["地域DX推進ラボ"],
}


@cache
def corpus() -> str:
    return "\x00".join(
        compact(p.read_text(encoding="utf-8")) for p in (PROJECT_ROOT / "corpus").glob("*.txt")
    )


def all_cards() -> list[Card]:
    return [load_card(p) for p in sorted(ADVICE_DIR.glob("*.yaml"))]


def test_every_card_file_loads_and_ids_match_file_names() -> None:
    for path in sorted(ADVICE_DIR.glob("*.yaml")):
        assert load_card(path).id == path.stem


def test_there_are_at_least_forty_cards_with_unique_ids_and_known_related_cards() -> None:
    loaded = all_cards()
    ids = [c.id for c in loaded]
    assert len(ids) >= 40
    assert len(ids) == len(set(ids))
    for card in loaded:
        assert set(card.related) <= set(ids), card.id
    assert len(cards()) == len(loaded)  # the runtime loader skips none


@pytest.mark.parametrize("card", all_cards(), ids=lambda c: c.id)
def test_card_is_grounded_in_the_corpus(card: Card) -> None:
    assert problems(card, corpus()) == []


@pytest.mark.parametrize("card", all_cards(), ids=lambda c: c.id)
def test_card_is_complete(card: Card) -> None:
    # (a sentence said only to an owner who named its need — `when` — is not one of the answer's 2–5)
    always = [c for c in card.answer if c.when is None]
    assert 1 <= len(always) <= 8 if card.kind == "clause" else 2 <= len(always) <= 5
    assert len(card.questions) >= 5
    assert any(q.isascii() for q in card.questions), "at least one English example question"
    assert all(c.en for c in card.claims()), "every sentence has an English rendering"
    assert set(card.needs) <= NEEDS
    assert set(card.agencies) <= {a.id for a in agencies()}
    if card.verbatim:
        assert all(c.quote is not None for c in card.answer), "a verbatim clause is quotes only"


def test_clause_cards_quote_the_clause_in_reading_order() -> None:
    for card in all_cards():
        if not card.verbatim:
            continue
        positions = [corpus().find(compact(c.quote or "")) for c in card.answer]
        assert all(p >= 0 for p in positions), card.id
        assert positions == sorted(positions), f"{card.id}: quotes out of reading order"


@pytest.mark.parametrize("card_id,names", sorted(AGENCY_NAMES.items()))
def test_agency_reason_cites_a_quote_that_names_the_agency(card_id: str, names: list[str]) -> None:
    from bot.sections import REASON_CHOICES

    card = next(c for c in all_cards() if c.id == card_id)
    for reason in card.answer[:REASON_CHOICES]:  # any of these may be shown as the agency's reason
        assert any(any(compact(n) in compact(q) for n in names) for q in reason.cites), reason.sentence


def test_steps_are_actions_not_noun_phrases() -> None:
    for card in all_cards():
        for step in card.steps:
            last = content_words(step.sentence)[-1:]
            # An action ends in a verb (する・始める・活用する…), not a bare noun such as 「支援機関の活用」.
            assert step.sentence.rstrip("。").endswith(("る", "う", "く", "す", "つ", "む", "ぶ", "ぐ")), (
                card.id,
                step.sentence,
                last,
            )


def test_support_check_rejects_a_name_or_number_the_quotes_lack() -> None:
    quote = (
        "設備投資等に必要な資金について、基準利率（1.95%）よりも低い特別利率②（1.30%）で融資が受けられます。"
    )
    assert support("特別利率②（1.30%）で融資が受けられます。", [quote]).ok
    assert support("特別利率（1.20%）で融資が受けられます。", [quote]).missing_numbers == ["1.20"]
    assert "中金" in support("商工中金から特別利率で融資が受けられます。", [quote]).missing_words
    assert not support("融資の審査は1週間で終わります。", [quote]).ok


def test_every_card_quote_lies_inside_one_indexed_passage(built_index) -> None:  # type: ignore[no-untyped-def]
    """A quote that spans two chunks could not be cited: the advisor would drop its sentence."""
    from bot.compose import SentencePool

    _, index = built_index
    pool = SentencePool(index.chunks)
    missing = [
        (card.id, quote)
        for card in all_cards()
        for claim in card.claims()
        for quote in claim.cites
        if pool.find_chunk(quote) is None
    ]
    assert missing == []
