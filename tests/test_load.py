"""Tests for ingest/load.py on real files: Japanese PDFs, legacy-encoded text, Markdown and HTML."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader

from ground.errors import LoadError
from ingest.load import SUPPORTED_SUFFIXES, LoadedDocument, load_document
from tests.files import (
    FONT_PACKAGE,
    make_empty_pdf,
    make_image_only_pdf,
    make_pdf,
    make_text_file,
    make_truncated_pdf,
)

PAGE_ONE = "デジタルガバナンス・コードは、経営者がDXを進めるために実践すべき事柄をまとめたものです。"
PAGE_TWO = "中小企業がDXに取り組む第一歩は、業務のデジタル化と社内の合意づくりです。"
PAGE_THREE = "ＩＴ導入補助金（①申請 ②交付決定 ③実績報告）の流れを確認しましょう。"


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def squeeze(text: str) -> str:
    """NFKC without whitespace, so line wrapping in the PDF does not break a phrase apart."""
    return "".join(nfkc(text).split())


@pytest.fixture(scope="module")
def japanese_pdf_extracts(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip PDF text tests when neither the IPA font nor reportlab's CID font round-trips through pypdf."""
    probe = make_pdf(tmp_path_factory.mktemp("probe") / "probe.pdf", ["中小企業"])
    if "中小企業" not in nfkc(PdfReader(probe).pages[0].extract_text() or ""):
        pytest.skip(f"pypdf cannot read back Japanese from the test PDF font: apt-get install {FONT_PACKAGE}")


@pytest.mark.usefixtures("japanese_pdf_extracts")
def test_japanese_pdf_pages_come_back_with_page_numbers(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "guide.pdf", [PAGE_ONE, PAGE_TWO, PAGE_THREE])

    doc = load_document(path)

    assert isinstance(doc, LoadedDocument)
    assert doc.kind == "pdf"
    assert doc.encoding is None
    assert doc.path == path
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [page.number for page in doc.pages] == [1, 2, 3]
    assert "デジタルガバナンス・コード" in squeeze(doc.pages[0].text)
    assert "中小企業" in squeeze(doc.pages[1].text)
    assert "IT導入補助金" in squeeze(doc.pages[2].text)
    assert "中小企業" not in squeeze(doc.pages[0].text)


@pytest.mark.usefixtures("japanese_pdf_extracts")
def test_long_pdf_line_is_wrapped_and_still_extracted_in_order(tmp_path: Path) -> None:
    long_text = PAGE_ONE * 4
    path = make_pdf(tmp_path / "long.pdf", [long_text])

    doc = load_document(path)

    assert squeeze(long_text) in squeeze(doc.pages[0].text)


@pytest.mark.usefixtures("japanese_pdf_extracts")
def test_pdf_title_metadata_becomes_title_hint(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "titled.pdf", [PAGE_ONE], title="中小企業のDX推進ガイドライン")

    assert load_document(path).title_hint == "中小企業のDX推進ガイドライン"


@pytest.mark.usefixtures("japanese_pdf_extracts")
def test_pdf_without_title_has_no_title_hint(tmp_path: Path) -> None:
    # reportlab writes the placeholder "untitled", which must not become a title
    path = make_pdf(tmp_path / "untitled.pdf", [PAGE_ONE])

    assert load_document(path).title_hint is None


@pytest.mark.usefixtures("japanese_pdf_extracts")
def test_pdf_encrypted_with_empty_user_password_opens(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "owner_only.pdf", [PAGE_TWO], title="保護付き", owner_password="owner-secret")
    assert PdfReader(path).is_encrypted

    doc = load_document(path)

    assert "中小企業" in squeeze(doc.pages[0].text)
    assert doc.title_hint == "保護付き"


def test_pdf_encrypted_with_real_password_is_refused_with_reason(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", [PAGE_TWO], user_password="himitsu")

    with pytest.raises(LoadError, match="パスワード") as caught:
        load_document(path)
    assert "locked.pdf" in caught.value.message


def test_truncated_pdf_is_reported_as_broken(tmp_path: Path) -> None:
    path = make_truncated_pdf(tmp_path / "cut.pdf")

    with pytest.raises(LoadError, match="PDF が壊れて"):
        load_document(path)


def test_pdf_with_no_pages_is_reported_as_broken(tmp_path: Path) -> None:
    path = make_empty_pdf(tmp_path / "nopages.pdf")

    with pytest.raises(LoadError, match="ページが 0 枚"):
        load_document(path)


def test_non_pdf_bytes_with_pdf_suffix_are_reported_as_broken(tmp_path: Path) -> None:
    path = make_text_file(tmp_path / "fake.pdf", "これはPDFではありません")

    with pytest.raises(LoadError, match="PDF が壊れて"):
        load_document(path)


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")

    with pytest.raises(LoadError, match="空のファイル"):
        load_document(path)


def test_image_only_pdf_asks_for_ocr(tmp_path: Path) -> None:
    path = make_image_only_pdf(tmp_path / "scan.pdf")

    with pytest.raises(LoadError, match="OCR"):
        load_document(path)


def test_unsupported_suffix_names_the_suffix_and_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(b"PK\x03\x04 not really a docx")

    with pytest.raises(LoadError, match=r"対応していない形式です（\.docx）.*PDF・TXT・MD・HTML"):
        load_document(path)


def test_supported_suffixes_match_the_contract() -> None:
    assert frozenset({".pdf", ".txt", ".md", ".markdown", ".html", ".htm"}) == SUPPORTED_SUFFIXES


def test_utf8_text_is_split_into_pages_at_form_feeds(tmp_path: Path) -> None:
    path = make_text_file(tmp_path / "notes.txt", f"{PAGE_ONE}\n\f{PAGE_TWO}\n\f{PAGE_THREE}\n\f")

    doc = load_document(path)

    assert doc.kind == "txt"
    assert doc.encoding == "utf-8"
    assert doc.title_hint is None
    assert [page.number for page in doc.pages] == [1, 2, 3]
    assert doc.pages[1].text.strip() == PAGE_TWO


def test_text_without_form_feeds_is_one_page(tmp_path: Path) -> None:
    path = make_text_file(tmp_path / "memo.txt", "一行目\n二行目\n")

    doc = load_document(path)

    assert [(page.number, page.text) for page in doc.pages] == [(1, "一行目\n二行目\n")]


def test_utf8_with_bom_is_read_without_the_bom(tmp_path: Path) -> None:
    path = make_text_file(tmp_path / "bom.txt", PAGE_TWO, encoding="utf-8-sig")

    doc = load_document(path)

    assert doc.pages[0].text == PAGE_TWO
    assert doc.encoding == "utf-8-sig"


@pytest.mark.parametrize("text", [PAGE_TWO, PAGE_THREE, "見積", "ＩＴ導入補助金の申請について"])
def test_shift_jis_text_is_decoded_as_cp932(tmp_path: Path, text: str) -> None:
    path = make_text_file(tmp_path / "sjis.txt", text, encoding="cp932")

    doc = load_document(path)

    assert doc.pages[0].text == text
    assert doc.encoding == "cp932"


@pytest.mark.parametrize("text", [PAGE_ONE, PAGE_TWO, "見積", "ＩＴ導入補助金の申請について"])
def test_euc_jp_text_is_decoded_as_euc_jp(tmp_path: Path, text: str) -> None:
    path = make_text_file(tmp_path / "euc.txt", text, encoding="euc_jp")

    doc = load_document(path)

    assert doc.pages[0].text == text
    assert doc.encoding is not None
    assert doc.encoding.replace("-", "_").startswith("euc_j")


def test_binary_bytes_in_a_txt_file_are_refused_as_undecodable(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(os.urandom(512) + b"\x00\x00\x01\x02" + os.urandom(512))

    with pytest.raises(LoadError, match=r"文字コードを判定できません.*UTF-8"):
        load_document(path)


def test_control_garbage_without_nul_is_refused_as_undecodable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.txt"
    path.write_bytes(bytes(range(1, 32)) * 20)

    with pytest.raises(LoadError, match="文字コードを判定できません"):
        load_document(path)


def test_whitespace_only_text_is_refused(tmp_path: Path) -> None:
    path = make_text_file(tmp_path / "blank.txt", " \n\n\t \n")

    with pytest.raises(LoadError, match="本文がありません"):
        load_document(path)


def test_html_text_drops_scripts_and_navigation_and_takes_the_title(tmp_path: Path) -> None:
    html = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title> DX推進ガイド｜経済産業省 </title>
<style>body { color: red; }</style><script>var secret = "スクリプトの中身";</script></head>
<body><nav><a href="/">トップへ戻る</a></nav>
<h1>中小企業のDX</h1><p>まずは<b>業務</b>の<a href="#">デジタル化</a>から始めます。</p>
<ul><li>紙の帳票を減らす</li><li>クラウドを使う</li></ul>
<script>alert("ポップアップ")</script></body></html>"""
    path = make_text_file(tmp_path / "page.html", html)

    doc = load_document(path)

    text = doc.pages[0].text
    assert doc.kind == "html"
    assert doc.title_hint == "DX推進ガイド｜経済産業省"
    assert [page.number for page in doc.pages] == [1]
    assert "まずは業務のデジタル化から始めます。" in text
    assert "中小企業のDX\n" in text
    assert "紙の帳票を減らす\nクラウドを使う" in text
    for hidden in ("スクリプトの中身", "ポップアップ", "color: red", "トップへ戻る", "DX推進ガイド｜"):
        assert hidden not in text


def test_shift_jis_html_with_meta_charset_is_decoded(tmp_path: Path) -> None:
    html = (
        '<html><head><meta charset="Shift_JIS"><title>補助金①</title></head>'
        "<body><p>申請の流れ</p></body></html>"
    )
    path = make_text_file(tmp_path / "legacy.htm", html, encoding="cp932")

    doc = load_document(path)

    assert doc.title_hint == "補助金①"
    assert doc.pages[0].text == "申請の流れ"
    assert doc.encoding == "cp932"


def test_markdown_title_comes_from_the_first_level_one_heading(tmp_path: Path) -> None:
    markdown = (
        "<!-- # 隠しコメントの見出し -->\n"
        "```\n# コードブロックの中\n```\n"
        "## 小見出しが先\n"
        "# DX推進の手引き\n\n本文です。\n\n# 二つ目の見出し\n"
    )
    path = make_text_file(tmp_path / "guide.md", markdown)

    doc = load_document(path)

    assert doc.kind == "md"
    assert doc.title_hint == "DX推進の手引き"
    assert [page.number for page in doc.pages] == [1]
    assert "本文です。" in doc.pages[0].text
    assert "## 小見出しが先" in doc.pages[0].text
    assert "隠しコメント" not in doc.pages[0].text


def test_markdown_without_heading_has_no_title_hint(tmp_path: Path) -> None:
    path = make_text_file(tmp_path / "notes.markdown", "見出しのないメモです。\n")

    doc = load_document(path)

    assert doc.kind == "md"
    assert doc.title_hint is None
