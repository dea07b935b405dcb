"""Slide/page boundaries and headings (ingest/structure.py), mostly on the bundled METI slide text."""

from __future__ import annotations

import pytest

from ingest.normalize import is_chart_line
from ingest.structure import (
    Segment,
    find_heading,
    is_slide_deck,
    looks_like_heading,
    segment_markdown,
    segment_pages,
    split_slides,
)
from tests.conftest import BUNDLED_CORPUS

RAW = (BUNDLED_CORPUS / "meti-dx-policy-overview.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def slides() -> list[Segment]:
    return segment_pages([(1, RAW)], "txt")


def slide_with(slides: list[Segment], needle: str) -> Segment:
    found = [s for s in slides if needle in s.text]
    assert found, f"no slide contains {needle!r}"
    return found[0]


def test_bundled_text_is_recognized_as_a_slide_deck() -> None:
    assert is_slide_deck(RAW)


def test_bundled_text_is_cut_into_numbered_slides(slides: list[Segment]) -> None:
    assert 20 <= len(slides) <= 40
    assert [s.page for s in slides] == list(range(1, len(slides) + 1))


def test_every_slide_has_a_heading(slides: list[Segment]) -> None:
    with_heading = [s for s in slides if s.heading]

    assert len(with_heading) >= 0.9 * len(slides)


def test_the_five_pillars_slides_keep_their_continued_headings(slides: list[Segment]) -> None:
    headings = [s.heading for s in slides]

    for part in ("(1/3)", "(2/3)", "(3/3)"):
        assert f"DX経営に求められる5つの柱{part}" in headings
    first = slide_with(slides, "DX経営において求められる具体的な取組を「5つの柱」として整理。")
    assert first.heading == "DX経営に求められる5つの柱(1/3)"


def test_the_special_loan_rate_is_on_the_dx_certification_support_slide(slides: list[Segment]) -> None:
    # The deck's 「DX認定制度の概要」 title stands alone in the text; the passage sits under the next title.
    slide = slide_with(slides, "特別利率2(1.30%)で融資が受けられます。")

    assert slide.heading == "DX認定事業者への各種支援措置"


@pytest.mark.parametrize(
    ("passage", "heading"),
    [
        # Titles without the leading space: 「（まとめ）…」「(参考)…」, and one that stands apart before bullets.
        (
            "支援機関と一緒に自社のパーパスや将来のあるべき姿を描く",
            "(まとめ)DXを通じた本業課題の解決プロセス",
        ),
        ("めぶきFGの中期経営計画で取引先企業のDX推進を掲げ", "(参考) DX支援事例1: 常陽銀行"),
        ("北海道経産局管内(5)", "(参考)地域DX推進ラボ選定地域"),  # 「計 43地域」 is a label, not the title
    ],
)
def test_titles_without_a_leading_space_open_their_slide(
    slides: list[Segment], passage: str, heading: str
) -> None:
    assert slide_with(slides, passage).heading == heading


def test_title_only_slide_is_kept_with_the_next_slide(slides: list[Segment]) -> None:
    # 「 1．日本企業のDX取組状況」 is a section divider; the slide after it is 「DXとは何か」.
    slide = slide_with(slides, "1.日本企業のDX取組状況")

    assert slide.heading == "DXとは何か"
    assert slide.text.split("\n")[0] == "1.日本企業のDX取組状況"
    assert "• DXはデジタルを活用して企業や組織の変革を通じた成長を目指すもの。" in slide.text


def test_carried_title_stays_on_its_own_line(slides: list[Segment]) -> None:
    slide = slide_with(slides, "ITコーディネータ制度の拡充")

    assert slide.heading == "(参考)ITコーディネータ制度の拡充(DX支援)"
    assert "(参考)ITコーディネータ制度の拡充(DX支援)" in slide.text.split("\n")


def test_runs_of_one_space_chart_labels_do_not_open_slides(slides: list[Segment]) -> None:
    headings = {s.heading for s in slides}

    for label in ("人材育成・確保", "上1,000億円", "4. 20億円以上", "ガバナンス・体制"):
        assert label not in headings
    assert slide_with(slides, "経営トップの").heading == "DX推進指標"


def test_chart_values_stay_on_their_slide_instead_of_becoming_slides(slides: list[Segment]) -> None:
    chart_slide = slide_with(slides, "37.5% 26.9% 21.7%")

    assert chart_slide.heading == "DXとは何か"
    for slide in slides:
        text_lines = [line for line in slide.text.split("\n") if line.strip() and not is_chart_line(line)]
        assert len("".join(text_lines)) >= 100, f"slide {slide.page} is mostly chart values"


def test_split_slides_opens_a_slide_at_a_one_space_title_line() -> None:
    text = (
        " DX推進の課題\n• 人材不足が最大の課題。\n\n DX認定制度の概要\n• 認定事業者は支援措置を活用できる。"
    )

    parts = split_slides(text.replace("。", "。" + "あ" * 120))  # long enough to be slides, not labels

    assert len(parts) == 2
    assert parts[1][1] == " DX認定制度の概要"


@pytest.mark.parametrize(
    "line",
    ["DXとは何か", "DX経営に求められる５つの柱（2/3）", "(参考)ITコーディネータ制度の拡充(DX支援)"],
)
def test_short_title_lines_look_like_headings(line: str) -> None:
    assert looks_like_heading(line)


@pytest.mark.parametrize(
    "line",
    [
        "• DXはデジタルを活用して企業や組織の変革を通じた成長を目指すもの。",
        "（出典）IMD「World Digital Competitiveness Ranking 2024」を基に作成",
        "37.5%",
        "24",
        "DX認定の取得が必須となります。",
        "DX",
    ],
)
def test_bullets_sources_values_and_sentences_are_not_headings(line: str) -> None:
    assert not looks_like_heading(line)


def test_find_heading_skips_page_furniture_and_takes_the_first_title() -> None:
    assert find_heading(["", "12", "中小企業のDX推進", "• 本文です。"]) == "中小企業のDX推進"
    assert find_heading(["• 箇条書きだけ。"]) is None


def test_pages_of_a_pdf_stay_pages_with_their_numbers() -> None:
    pages = [
        (1, "IT導入補助金の概要\n補助金の対象は会計ソフトなどです。"),
        (2, ""),
        (3, "申請の流れ\n申請は電子で行います。"),
    ]

    segments = segment_pages(pages, "pdf")

    assert [(s.page, s.heading) for s in segments] == [(1, "IT導入補助金の概要"), (3, "申請の流れ")]
    assert segments[0].text.startswith("IT導入補助金の概要")
    assert "補助金の対象は会計ソフトなどです。" in segments[0].text


def test_plain_text_without_slides_is_one_segment() -> None:
    text = "DX推進の手引き\n\n中小企業がDXに取り組む第一歩は、業務のデジタル化です。"

    assert not is_slide_deck(text)
    assert segment_pages([(1, text)], "txt") == [Segment(1, "DX推進の手引き", text)]


def test_markdown_is_split_at_its_headings() -> None:
    text = (
        "# 手引き\n\n前書きです。\n\n"
        "## 第1章 準備\n\n社内の合意をつくる。\n\n"
        "## 第2章 実行\n\nツールを導入する。\n"
    )

    segments = segment_markdown(1, text)

    assert [(s.heading, s.text) for s in segments] == [
        ("手引き", "前書きです。"),
        ("第1章 準備", "社内の合意をつくる。"),
        ("第2章 実行", "ツールを導入する。"),
    ]
    assert segment_pages([(1, text)], "md") == segments


# ---------------------------------------------------------------------------------------------
# long guides: clause ids, running headers and footers, tables


def test_clause_headings_and_references_share_one_form() -> None:
    from ingest.structure import clause_id, clause_refs

    assert clause_id("柱３－２　デジタル人材の育成・確保") == ("柱3-2", "デジタル人材の育成・確保")
    assert clause_id("柱1") == ("柱1", None)
    assert clause_id("視点2: 企業文化への定着") == ("視点②", "企業文化への定着")
    assert clause_id("柱3-2の取組を進めるため、体制を整える。") is None  # a sentence, not a heading
    assert clause_refs("柱3の2と柱 1、視点②の違いは？") == ["柱3-2", "柱1", "視点②"]


def test_running_headers_footers_and_contents_lines_are_dropped_but_body_lines_kept() -> None:
    from ingest.structure import strip_furniture

    pages = [
        (
            n,
            f"手引き2025\n本文の{'一二三四五'[n - 1]}行目です。\n同じ文がどのページにもある。\n- {n} -\n"
            "第1章 はじめに …………… 3\n© 経済産業省",
        )
        for n in range(1, 6)
    ]
    pages[2] = (3, pages[2][1] + "\n【取組例】")

    kept = dict(strip_furniture(pages))

    assert kept[1] == ["本文の一行目です。"]
    assert kept[3] == ["本文の三行目です。", "【取組例】"]  # a clause part is never furniture


def test_a_table_becomes_one_line_of_cells_that_joins_no_sentence() -> None:
    from ingest.structure import segment_guide

    page = "柱2 DX戦略の策定\n【基本的事項】\n企業はDX戦略を定める。\n項目\n内容\n対象\n全社\n注2：補足です。"
    [segment] = segment_guide([(1, page), (2, "次のページの本文です。")])[:1]

    assert segment.clause == "柱2"
    assert segment.heading == "柱2 DX戦略の策定（基本的事項）"
    assert "項目 / 内容 / 対象 / 全社" in segment.text.split("\n")
    assert "注2:補足です。" in segment.text.split("\n")
