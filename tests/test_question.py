"""Reading a question: programmes the guides never name, and what-to-bring versus where-to-go."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.counsel import asks_to_bring
from bot.question import unknown_programmes
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
