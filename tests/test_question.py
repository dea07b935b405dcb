"""Reading a question: programmes the guides never name, and what-to-bring versus where-to-go."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import lab_regions
from bot.counsel import asks_to_bring, clause_card_id
from bot.question import named_prefecture, unknown_programmes
from bot.route import find_regions
from bot.stage import estimate_stage
from ingest.normalize import nfkc

CORPUS = nfkc((Path(__file__).resolve().parents[1] / "corpus" / "meti-dx-policy-overview.txt").read_text())


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("IT導入補助金の今年度の申請締め切りっていつですか？", ["IT導入補助金"]),
        ("小規模事業者持続化補助金とどっちがいい？", ["小規模事業者持続化補助金"]),
        ("キャリアアップ助成金も使える？", ["キャリアアップ助成金"]),
        # The guides' 「ものづくり・商業・サービス生産性向上促進補助金」 and 「人材開発支援助成金」.
        ("来年ものづくり補助金に申し込むつもり", []),
        ("人材開発支援助成金は使える？", []),
        # No programme named at all.
        ("国の補助金ってある？", []),
        ("研修に使える助成金はありますか", []),
    ],
)
def test_programmes_the_guides_never_name_are_found(question: str, unknown: list[str]) -> None:
    assert unknown_programmes(question, CORPUS) == unknown


@pytest.mark.parametrize(
    ("question", "bring"),
    [
        ("そこへ行くとき、何を持っていけばいい？", True),
        ("相談に行く前に何を準備すればいい？", True),
        ("What should I bring?", True),
        # Where to go, not what to bring; an application prepared, not a visit.
        ("DXの相談ってどこに持っていけばいいんでしょう", False),
        ("取るとしたら、申請の前にどんなものを社内で用意しておく必要がありますか？", False),
    ],
)
def test_what_to_bring_is_told_from_where_to_go(question: str, bring: bool) -> None:
    assert asks_to_bring(question) is bring


def test_a_call_received_is_no_way_of_working() -> None:
    assert estimate_stage("営業の電話が来たんだけど、ITコーディネータって何をしてくれる人？") is None
    described = estimate_stage("うちは注文はFAXと電話で受けてます")
    assert described is not None and described.stage.level == 1


@pytest.mark.parametrize(
    ("text", "prefecture"),
    [
        ("We run a ramen shop in Yokohama.", "神奈川"),
        ("I'm in Kumamoto. Is there a DX lab?", "熊本"),
        ("Our office is in Shinjuku, Tokyo.", "東京"),
        ("We are a small firm in Saga.", "佐賀"),
    ],
)
def test_a_place_written_in_english_is_read_as_its_prefecture(text: str, prefecture: str) -> None:
    assert named_prefecture(text) == prefecture


def test_an_english_word_that_spells_a_place_is_no_place() -> None:
    assert named_prefecture("It has been a long saga of paper forms.") is None
    assert find_regions("We are in Fukuoka City.", lab_regions()) == ["福岡市"]


@pytest.mark.parametrize(
    ("text", "card_id"),
    [
        ("5つの柱のうち、人材に関する柱では何が求められていますか？", "dgc-pillar-3-2"),
        ("セキュリティの柱の望ましい方向性は？", "dgc-pillar-3-3"),
        ("ステークホルダーとの対話の柱を原文で", "dgc-pillar-5"),
        ("柱3-1の柱となる考え方は？", "dgc-pillar-3-1"),
        ("5つの柱を教えて", None),
    ],
)
def test_a_pillar_named_by_its_subject_is_that_pillar(text: str, card_id: str | None) -> None:
    assert clause_card_id(text) == card_id


@pytest.mark.parametrize(
    ("text", "supporter"),
    [
        ("信用金庫で中小企業向けの相談を担当している者です。", True),
        ("地銀の法人営業です。常陽銀行の事例で、相談件数は？", True),
        ("最近メインバンクの担当者がやたらDXの話をしてきます。", False),  # an owner speaking of the bank
        ("信用金庫から融資を受けています。", False),
    ],
)
def test_support_staff_are_known_by_what_they_say_they_do(text: str, supporter: bool) -> None:
    from bot.question import is_supporter

    assert is_supporter(text) is supporter


@pytest.mark.parametrize(
    ("question", "yes_no"),
    [
        ("取引のある銀行にDXの相談をしてもいいんですか？", True),
        ("公庫の低い金利って誰でも使えるの？", True),  # 「誰でも」 is no question word
        ("Can my bank help us with DX?", True),
        ("DXって何から始めればいい？", False),
        ("誰に相談すればいい？", False),
        ("Is it worth it, and what would we get?", False),
    ],
)
def test_yes_no_questions_are_told_from_questions_for_content(question: str, yes_no: bool) -> None:
    from bot.question import YES_NO

    assert bool(YES_NO.search(nfkc(question))) is yes_no


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("その話に出てきた「RFP」って何ですか？", "RFP"),
        ("その「BPO」って、要は外に丸投げするってことですか？", "BPO"),
        ("What is a PMO?", "PMO"),
        ("What is it, roughly?", None),  # 「it」 is no term
        ("DXって何から始めればいい？", None),
    ],
)
def test_the_term_a_question_asks_the_meaning_of(question: str, term: str | None) -> None:
    from bot.question import asked_term

    assert asked_term(question) == term
