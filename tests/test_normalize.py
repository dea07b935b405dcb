"""Each normalization rule of ingest/normalize.py, checked on real snippets of the bundled METI text."""

from __future__ import annotations

import pytest

from ingest.normalize import (
    collapse_chart_values,
    compact,
    drop_page_furniture,
    is_bullet_line,
    is_chart_line,
    is_page_number,
    nfkc,
    normalize_text,
    repair_line_breaks,
    split_inline_bullets,
)
from tests.conftest import BUNDLED_CORPUS

RAW = (BUNDLED_CORPUS / "meti-dx-policy-overview.txt").read_text(encoding="utf-8")


def snippet(text: str) -> str:
    """A piece of the bundled text, checked to be there verbatim (line breaks and all)."""
    assert text in RAW, f"not in the bundled corpus: {text[:40]!r}"
    return text


def paragraphs(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


# --- NFKC ---------------------------------------------------------------------------------------


def test_kangxi_radicals_in_the_corpus_become_ordinary_kanji() -> None:
    raw = snippet("➢ 建設現場では多くの業者と協力して⼯事が進んでいく。⾼齢者も多")
    assert "\u2f2f" in raw and "\u2fbc" in raw  # ⼯ KANGXI RADICAL WORK, ⾼ KANGXI RADICAL TALL

    assert nfkc(raw) == "➢ 建設現場では多くの業者と協力して工事が進んでいく。高齢者も多"


def test_kangxi_radical_inside_a_word_is_searchable_as_the_word() -> None:
    raw = snippet("労働生産性の変化及び売上⾼の変化率はそれぞれ中央値を集計。")

    assert "売上高" in normalize_text(raw)


def test_full_width_digits_and_brackets_become_ascii() -> None:
    raw = snippet(" DX経営に求められる５つの柱（1/3）")

    assert normalize_text(raw) == "DX経営に求められる5つの柱(1/3)"


# --- line-break repair ----------------------------------------------------------------------------


def test_word_broken_across_lines_is_joined() -> None:
    raw = snippet("✓紙や電話を使用するアナロ\nグ業務が中心、デジタル化\nが図られておらず、効果な\nし")

    assert (
        normalize_text(raw) == "✓紙や電話を使用するアナログ業務が中心、デジタル化が図られておらず、効果なし"
    )


def test_sentence_broken_across_a_blank_line_is_joined() -> None:
    raw = snippet("より大きな効果\n\nが期待できる。")
    bullet = snippet("• 身の回りの業務のデジタル化から始め、徐々にデジタル活用を進めることで、" + raw)

    assert normalize_text(bullet) == (
        "• 身の回りの業務のデジタル化から始め、徐々にデジタル活用を進めることで、より大きな効果が期待できる。"
    )


def test_sentence_broken_after_a_particle_across_a_blank_line_is_joined() -> None:
    raw = snippet("普通保険等とは別枠での追加保証や保証枠の拡大が\n\n受けられます。")

    assert normalize_text(raw) == "普通保険等とは別枠での追加保証や保証枠の拡大が受けられます。"


def test_blank_line_after_a_finished_sentence_stays_a_paragraph_break() -> None:
    raw = snippet(
        "• DXはデジタルを活用して企業や組織の変革を通じた成長を目指すもの。\n\n"
        "• 身の回りの業務のデジタル化から始め"
    )

    assert paragraphs(normalize_text(raw)) == [
        "• DXはデジタルを活用して企業や組織の変革を通じた成長を目指すもの。",
        "• 身の回りの業務のデジタル化から始め",
    ]


def test_short_label_after_a_particle_is_not_glued_to_the_sentence() -> None:
    raw = snippet("コンサルティング業務が可能に\n\n地域IT\nベンダー")

    assert paragraphs(normalize_text(raw))[-1] == "地域ITベンダー"


def test_repair_joins_ascii_words_with_a_space() -> None:
    assert repair_line_breaks(["see the DX", "Selection report"]) == ["see the DX Selection report"]


# --- bullets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "• DXはデジタルを活用して企業や組織の変革を通じた成長を目指すもの。",
        "✓受発注をFAXや電話",
        "➢ 迅速なクラウド基幹システムを構築し、全体最適化を実現。",
        "⚫ 現場から経営層までが参加する「全員DX」を推進",
        "■間接業務が多忙で本業に特化できない",
        "・DXの推進に向けたビジョン、実施計画、進捗状況を測るた",
    ],
)
def test_each_bullet_in_the_corpus_starts_an_item(line: str) -> None:
    assert is_bullet_line(snippet(line))


def test_bullet_items_stay_separate_while_their_broken_lines_are_joined() -> None:
    raw = snippet("✓受発注をFAXや電話\nのみで実施\n\n✓勤怠管理として出勤簿に\n判子を押印")

    assert paragraphs(normalize_text(raw)) == [
        "✓受発注をFAXや電話のみで実施",
        "✓勤怠管理として出勤簿に判子を押印",
    ]


def test_bullets_on_consecutive_lines_are_not_joined() -> None:
    raw = snippet("■間接業務が多忙で本業に特化できない\n■今後の人手不足が不安、対策を講じたい")

    assert paragraphs(normalize_text(raw)) == [
        "■間接業務が多忙で本業に特化できない",
        "■今後の人手不足が不安、対策を講じたい",
    ]


def test_black_circle_bullet_item_is_joined_with_its_continuation() -> None:
    raw = snippet(
        "⚫ DXに取り組むことで、業務効率化・標準化のみならず、新卒社員の定\n着率や経常利益の向上・拡大も達成"
    )

    assert (
        normalize_text(raw)
        == "⚫ DXに取り組むことで、業務効率化・標準化のみならず、新卒社員の定着率や経常利益の向上・拡大も達成"
    )


def test_two_bullets_on_one_line_are_split_into_two_items() -> None:
    raw = snippet("■ DXの取組プロジェクト等 ■ DX推進の成果")

    assert split_inline_bullets(raw) == ["■ DXの取組プロジェクト等", "■ DX推進の成果"]
    assert paragraphs(normalize_text(raw)) == ["■ DXの取組プロジェクト等", "■ DX推進の成果"]


def test_nakaguro_starts_an_item_only_at_the_start_of_a_line() -> None:
    raw = snippet(
        "・DXの推進に向けたビジョン、実施計画、進捗状況を測るた\nめの指標が明確である\n\n・下記①・②のいずれか"
    )

    assert paragraphs(normalize_text(raw)) == [
        "・DXの推進に向けたビジョン、実施計画、進捗状況を測るための指標が明確である",
        "・下記1・2のいずれか",
    ]
    assert split_inline_bullets("業務標準化・業務効率化") == ["業務標準化・業務効率化"]


# --- page furniture and chart values ------------------------------------------------------------


def test_lone_page_number_between_paragraphs_is_dropped() -> None:
    raw = snippet(
        "他薦での応募は可能。\n\n24\n\n５．ものづくり・商業・サービス生産性向上促進補助金の加点項目"
    )

    assert paragraphs(normalize_text(raw)) == [
        "他薦での応募は可能。",
        "5.ものづくり・商業・サービス生産性向上促進補助金の加点項目",
    ]


@pytest.mark.parametrize("line", ["24", " 9", "17 ", "- 3 -", "12 / 40"])
def test_page_number_forms_are_recognized(line: str) -> None:
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["24時間対応", "2023年度の調査", "5.ものづくり"])
def test_text_starting_with_a_number_is_not_a_page_number(line: str) -> None:
    assert not is_page_number(line)
    assert drop_page_furniture([line]) == [line]


def test_chart_value_lines_collapse_into_one_line() -> None:
    raw = snippet("37.5%\n\n26.9%\n\n21.7%\n\n21.9%")

    assert collapse_chart_values(raw.split("\n")) == ["37.5% 26.9% 21.7% 21.9%"]


def test_chart_values_of_a_slide_become_one_line_next_to_their_text() -> None:
    raw = snippet(
        "発による付加価値の向上\n\n\n\n37.5%\n\n26.9%\n\n21.7%\n\n21.9%\n\n27.3%\n\n23.6%\n\n14.3%\n\n15.1%\n\n"
        "10.5%\n\n18.9%\n\n29.1%\n\n33.9%\n\n2.5%\n\n0.4%\n\n0.7%\n\n4.9%\n\n1.3%\n\n9.6%\n\n2023年度\n\n（n=1,013）"
    )

    lines = paragraphs(normalize_text(raw))

    assert lines[0] == "発による付加価値の向上"
    assert len(lines) == 2
    assert lines[1].startswith("37.5% 26.9%") and lines[1].endswith("2023年度 (n=1,013)")
    assert is_chart_line(lines[1])


@pytest.mark.parametrize("line", ["37.5%", "73.7％", "（n=1,013）", "2023年度", "0.4%"])
def test_bare_chart_values_are_chart_lines(line: str) -> None:
    assert is_chart_line(nfkc(snippet(line)))


@pytest.mark.parametrize("line", ["基準利率（1.95%）よりも低い特別", "96百万円 130名", "31位 日本"])
def test_text_holding_numbers_is_not_a_chart_line(line: str) -> None:
    assert not is_chart_line(nfkc(snippet(line)))


# --- whole text and compact ----------------------------------------------------------------------


def test_normalize_text_collapses_runs_of_blank_lines_and_spaces() -> None:
    text = normalize_text("DX推進の課題\n\n\n\n\n人材  不足　　が課題。\r\n")

    assert text == "DX推進の課題\n\n人材 不足 が課題。"


def test_normalize_text_is_idempotent_on_the_bundled_text() -> None:
    once = normalize_text(RAW[:5000])

    assert normalize_text(once) == once


def test_compact_removes_all_whitespace_and_applies_nfkc() -> None:
    assert compact("アナロ\nグ 業務") == "アナログ業務"
    assert compact("ＤＸ　認定（１．３０％）") == "DX認定(1.30%)"
    assert compact(snippet("売上⾼")) == "売上高"


def test_compact_finds_a_normalized_quote_in_the_raw_corpus() -> None:
    quote = "紙や電話を使用するアナログ業務が中心、デジタル化が図られておらず、効果なし"

    assert compact(quote) in compact(RAW)


def test_a_new_item_after_a_blank_line_is_not_merged_into_the_previous_one() -> None:
    # The 手引き slide lists success points one per paragraph; a hiragana start is not a continuation.
    text = "経営者がリーダーシップ\nを取ってDXを推進する\n\nまずは身近なところから\n始め、成功体験を重ねる"
    lines = normalize_text(text).split("\n")
    assert "経営者がリーダーシップを取ってDXを推進する" in lines
    assert "まずは身近なところから始め、成功体験を重ねる" in lines


def test_a_particle_after_a_blank_line_still_continues_the_sentence() -> None:
    text = "DX推進のための投資等の意思決定において、資金\n\nを経営にとって必須な投資として位置付け"
    assert "資金を経営にとって必須な投資" in normalize_text(text)
