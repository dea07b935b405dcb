"""DX stage estimation from an owner's description, and support-agency matching by need and by region."""

from __future__ import annotations

import pytest

from bot.agencies import match_agencies
from bot.catalog import agencies, lab_regions
from bot.stage import estimate_stage, planned_stage

# ---- stage ---------------------------------------------------------------------------------------
STAGES: list[tuple[str, int]] = [
    # 1 デジタル化が全く未着手: FAX/phone ordering, paper timesheets with stamps
    ("うちは受発注をFAXと電話だけでやっています", 1),
    ("注文はFAXで受けて、電話で確認しています", 1),
    ("勤怠は紙の出勤簿にハンコを押しています", 1),
    ("タイムカードと紙の伝票で管理しているだけです", 1),
    ("FAXで受発注している町工場です。何から始めればいい？", 1),
    # 2 デジタイゼーション: FAX switched to email
    ("顧客との連絡をFAXからメールに切り替えました", 2),
    ("うちは注文をFAXから電子メールに切り替えたところです", 2),
    # 3 デジタライゼーション: inventory / customer-management systems
    ("在庫管理システムを入れて在庫量を管理しています", 3),
    ("顧客管理システムで顧客情報を管理しています", 3),
    ("クラウドの販売管理システムを導入しています", 3),
    # 4 DX: data-driven new products and channels
    ("うちは販売データを分析して新商品を開発しています", 4),
    ("データ活用で新しい販路を開拓しています", 4),
]

# Descriptions with 「〜ています」 and past-tense verbs.
MORE_STAGES: list[tuple[str, int]] = [
    ("見積書はエクセルで作ってメールで送っています", 2),
    ("蓄積したデータを分析して新サービスを始めました", 4),
]


@pytest.mark.parametrize(("text", "level"), MORE_STAGES, ids=[t for t, _ in MORE_STAGES])
def test_descriptions_with_polite_and_past_verbs_are_estimated(text: str, level: int) -> None:
    match = estimate_stage(text)
    assert match is not None and match.stage.level == level


@pytest.mark.parametrize(
    "text",
    [
        "DX認定とは？",
        "DX推進指標とは何ですか？",
        "FAXとは何ですか？",
        "柱3-3の望ましい方向性は？",
        # A condition, not what the owner does now (the owner review: placed at 段階3 from this alone).
        "クラウドのサービスを入れたら、データはちゃんと守られるんでしょうか？",
    ],
)
def test_question_without_a_situation_has_no_stage(text: str) -> None:
    assert estimate_stage(text) is None


def test_absence_of_a_system_is_not_read_as_using_it() -> None:
    match = estimate_stage("うちは在庫管理システムはないので、紙の台帳だけです")
    assert match is not None and match.stage.level == 1


# ---- agencies by need ----------------------------------------------------------------------------
def first_agency(text: str, first_step: bool = False) -> str:
    matches = match_agencies(text, first_step=first_step)
    assert matches, text
    return matches[0].agency.id


@pytest.mark.parametrize(
    "text",
    [
        "設備投資の資金を借りたいのですが、どこに相談すればいい？",
        "DXのための融資について相談したい",
        "信用金庫に相談してもいいのでしょうか",
    ],
)
def test_financing_need_puts_the_regional_bank_first(text: str) -> None:
    assert first_agency(text) == "regional_bank"


@pytest.mark.parametrize(
    "text",
    [
        "サイバーセキュリティ対策を相談したい",
        "情報処理安全確保支援士に相談したい",
        "勤怠や給与計算の相談先は？",
    ],
)
def test_security_and_accounting_needs_put_the_professionals_first(text: str) -> None:
    assert first_agency(text) == "professional"


def test_everyday_security_worry_puts_the_professionals_first() -> None:
    assert first_agency("ウイルス対策や情報漏えいが心配です。誰に相談すればいい？") == "professional"


@pytest.mark.parametrize(
    "text", ["システム開発をどこに頼めばいい？", "社内の基幹システムを開発してくれるところを探しています"]
)
def test_system_development_need_puts_an_it_vendor_first(text: str) -> None:
    assert first_agency(text) in {"regional_it_vendor", "major_it_vendor"}


@pytest.mark.parametrize(
    "text", ["クラウドのSaaSツールを導入したい", "kintoneのようなツールを使いたいのですが、相談先は？"]
)
def test_tool_adoption_need_puts_the_saas_vendor_first(text: str) -> None:
    assert first_agency(text) == "saas_vendor"


@pytest.mark.parametrize(
    "text", ["経営ビジョンやDX戦略を一緒に考えてくれる相談先は？", "事業計画と将来のビジョンを相談したい"]
)
def test_strategy_need_puts_a_consultant_or_the_bank_first(text: str) -> None:
    # The catalog lists strategy for both: コンサルタント（ITC・診断士）first, 金融機関 as 「主治医」.
    strategists = {a.id for a in agencies() if "strategy" in a.needs}
    assert {"consultant", "regional_bank"} <= strategists
    assert first_agency(text) in {"consultant", "regional_bank"}


def test_first_step_question_leads_with_an_agency_for_first_consultations() -> None:
    assert first_agency("DXって何から始めればいいですか？", first_step=True) == "regional_bank"


def test_matches_are_ranked_best_first_and_limited() -> None:
    matches = match_agencies("システム開発の相談先は？", limit=4)
    assert len(matches) == 4
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert len({m.agency.id for m in matches}) == 4


# ---- agencies by region --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("山形県の会社です。どこに相談すればいい？", "山形県"),
        ("福岡市の会社です。どこに相談すればいい？", "福岡市"),
        ("山形県に地域DX推進ラボはありますか？", "山形県"),
        ("福岡市でDXの相談ができるところは？", "福岡市"),
    ],
)
def test_lab_region_puts_the_regional_dx_lab_first_with_the_region(text: str, region: str) -> None:
    best = match_agencies(text)[0]
    assert best.agency.id == "regional_dx_lab"
    assert region in best.regions


@pytest.mark.parametrize(
    "text", ["高知県の会社です。どこに相談すればいい？", "高知県でDXの相談ができるところは？"]
)
def test_prefecture_outside_the_lab_list_does_not_lead_with_the_lab(text: str) -> None:
    assert "高知県" not in lab_regions()
    matches = match_agencies(text)
    assert matches[0].agency.id != "regional_dx_lab"
    assert all(not m.regions for m in matches)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        # A business function is no system: 「生産管理は全部Excel」 is Excel (段階2), not a 生産管理システム.
        ("金属加工の町工場です。生産管理は全部Excel。", 2),
        ("kintoneで顧客管理をしています", 3),
    ],
)
def test_a_function_counts_only_with_what_runs_it(text: str, level: int) -> None:
    match = estimate_stage(text)
    assert match is not None and match.stage.level == level


@pytest.mark.parametrize(
    "text",
    [
        # A product named in a hypothetical or a wish is no current practice (the owner review, session 5).
        "kintoneって月いくらくらいかかるの？うちみたいな10人の会社で入れた場合の費用感が知りたい",
        "Excelで売上の前年比を出したいんだけど",
    ],
)
def test_a_product_in_a_hypothetical_gives_no_stage(text: str) -> None:
    assert estimate_stage(text) is None


def test_mostly_stage_one_practices_with_one_spreadsheet_is_stage_one() -> None:
    # 「受発注をFAXや電話のみ」「出勤簿に判子」 are the guides' stage-1 examples; one Excel sheet does not
    # outweigh them.
    text = "注文は取引先からFAXか電話で受けていて、在庫は担当者がエクセルで管理、勤怠は紙のタイムカードです。"
    match = estimate_stage(text)
    assert match is not None and match.stage.level == 1


def test_orders_that_come_by_fax_are_how_the_business_runs_not_an_event() -> None:
    match = estimate_stage("受注は取引先からFAXで来て、事務員が作業指示書を手で書いてます。")
    assert match is not None and "fax" in match.cues


def test_what_the_owner_plans_is_placed_at_its_own_stage() -> None:
    match = planned_stage("カルテを紙からクラウドの顧客管理システムに移したいと考えています。どの段階？")
    assert match is not None and match.stage.level == 3 and "顧客管理" in match.cues
    assert planned_stage("受注はFAXで受けています。") is None


def test_a_system_the_owner_looks_at_is_one_in_use() -> None:
    match = estimate_stage("うちは注文をWebフォームで受けて、在庫も在庫管理システムで見てる。")
    assert match is not None and match.stage.level == 3


def test_describing_paper_timecards_does_not_call_for_a_labour_consultant() -> None:
    assert (
        first_agency("勤怠は紙のタイムカードで、月末に集計しています。何から始めればいい？") != "professional"
    )


def test_selling_by_mail_order_alone_is_not_stage_four() -> None:
    # A channel is not data used to widen it: the owner review placed this farm at 段階4 from 「通販」.
    match = estimate_stage(
        "みかん農園と通販をやってます。注文データはExcelに何年分も溜まってるけど、分析は何もしてない"
    )
    assert match is not None and match.stage.level == 2
    widened = estimate_stage("ネット通販で集めた販売データを分析して、新しい販路を広げています")
    assert widened is not None and widened.stage.level == 4
