"""`dxnavi corpus fetch` finds the guides on their landing pages: the bundled manifest's real entries
against a local copy of METI's site shape (relative links, several PDFs per page, an old and a new
version, a moved page, a page refreshed elsewhere, a 404), and the lock that makes a fetch repeatable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from dxnavi.cli import app
from ingest.discover import PdfLink, matching, pdf_links
from ingest.fetch import fetch_corpus, read_lock
from ingest.manifest import Discovery
from tests.conftest import BUNDLED_CORPUS
from tests.files import make_pdf
from tests.guide_site import GuideServer

METI = "https://www.meti.go.jp"
DGC = "/policy/it_policy/investment/dgc/dgc.html"
TEBIKI = "/policy/it_policy/investment/dx-chukenchushotebiki/dx-chukenchushotebiki.html"
TEBIKI_NEW = "/policy/it_policy/investment/dx-chukenchushotebiki/index.html"
SHIHYO = "/policy/it_policy/investment/dx-shihyo.html"
NINTEI = "/policy/it_policy/investment/dx-nintei/dx-nintei.html"
NINTEI_NEW = "/policy/it_policy/investment/dx-nintei/index.html"


def _page(title: str, items: list[str]) -> bytes:
    body = "\n".join(f"<li>{item}</li>" for item in items)
    return f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{title}</title></head>
<body><nav><a href="/">ホーム</a></nav><main><h1>{title}</h1><ul class="linkE">{body}</ul></main>
<footer><a href="/help/pdf.pdf">PDFの閲覧について（PDF形式）</a></footer></body></html>""".encode()


@pytest.fixture
def meti(guide_server: GuideServer, tmp_path: Path) -> GuideServer:
    """METI's pages as they are shaped: PDFs by relative links, 本文 beside 概要 and 英語版, older versions."""
    pdf = {
        name: make_pdf(tmp_path / f"{name}.pdf", [f"{name} の本文です。" * 3], title=name).read_bytes()
        for name in ("dgc3", "dgc3-gaiyo", "dgc3-en", "dgc2", "tebiki2025", "tebiki2", "shien", "nintei")
    }
    s = guide_server
    s.files[DGC] = _page(
        "デジタルガバナンス・コード",
        [
            '<a href="pdf/dgc3.0.pdf">デジタルガバナンス・コード3.0（PDF形式：2.1MB）</a>',
            '<a href="pdf/dgc3.0gaiyo.pdf">デジタルガバナンス・コード3.0 概要（PDF形式）</a>',
            '<a href="pdf/dgc3.0_en.pdf">Digital Governance Code 3.0 (English)（PDF形式）</a>',
            '2022年9月改訂 <a href="../dgc/pdf/dgc2.0.pdf">デジタルガバナンス・コード2.0（PDF形式）</a>',
        ],
    )
    s.files["/policy/it_policy/investment/dgc/pdf/dgc3.0.pdf"] = pdf["dgc3"]
    s.files["/policy/it_policy/investment/dgc/pdf/dgc3.0gaiyo.pdf"] = pdf["dgc3-gaiyo"]
    s.files["/policy/it_policy/investment/dgc/pdf/dgc3.0_en.pdf"] = pdf["dgc3-en"]
    s.files["/policy/it_policy/investment/dgc/pdf/dgc2.0.pdf"] = pdf["dgc2"]
    # The 手引き page moved (301); it lists the 2.0 edition above the newer 2025 one.
    s.redirects[TEBIKI] = TEBIKI_NEW
    s.files[TEBIKI_NEW] = _page(
        "中堅・中小企業等向けDX推進の手引き",
        [
            '<a href="/policy/it_policy/investment/dx-chukenchushotebiki/tebiki2.0.pdf">'
            "中堅・中小企業等向け「デジタルガバナンス・コード」実践の手引き2.0（令和6年3月）</a>",
            '<a href="tebiki2025.pdf">中堅・中小企業等向けDX推進の手引き2025（令和7年）（PDF形式）</a>',
            '<a href="tebiki2025gaiyo.pdf">中堅・中小企業等向けDX推進の手引き2025 概要版</a>',
            '<a href="shien.pdf">DX支援ガイダンス：デジタル化から始める中堅・中小企業等の伴走支援アプローチ</a>',
        ],
    )
    base = "/policy/it_policy/investment/dx-chukenchushotebiki/"
    s.files[base + "tebiki2.0.pdf"] = pdf["tebiki2"]
    s.files[base + "tebiki2025.pdf"] = pdf["tebiki2025"]
    s.files[base + "shien.pdf"] = pdf["shien"]
    # The DX認定 page was replaced by one that refreshes to its new address.
    s.files[NINTEI] = (
        b'<html><head><meta http-equiv="refresh" content="0; URL=index.html"></head>'
        b"<body>\xe7\xa7\xbb\xe8\xbb\xa2\xe3\x81\x97\xe3\x81\xbe\xe3\x81\x97\xe3\x81\x9f</body></html>"
    )
    s.files[NINTEI_NEW] = _page(
        "DX認定制度",
        [
            '<a href="pdf/youkou.pdf">DX認定制度 申請要項（申請の手引き）（PDF形式）</a>',
            '<a href="pdf/youshiki.pdf">申請書様式（PDF形式）</a>',
            '<a href="pdf/list.pdf">DX認定事業者一覧（PDF形式）</a>',
        ],
    )
    s.files["/policy/it_policy/investment/dx-nintei/pdf/youkou.pdf"] = pdf["nintei"]
    # SHIHYO is not served: the page is gone (404).
    return s


@pytest.fixture
def corpus(tmp_path: Path, meti: GuideServer) -> Path:
    """The bundled manifest with METI's host replaced by the local server."""
    target = tmp_path / "corpus"
    target.mkdir()
    text = (BUNDLED_CORPUS / "manifest.yaml").read_text(encoding="utf-8")
    (target / "manifest.yaml").write_text(text.replace(METI, meti.base), encoding="utf-8")
    return target


def invoke(*args: str, monkeypatch: pytest.MonkeyPatch, corpus: Path) -> Result:
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(corpus))
    return CliRunner().invoke(app, ["corpus", "fetch", "--quiet", *args])


def test_dry_run_lists_the_right_pdf_for_each_entry_and_downloads_nothing(
    corpus: Path, meti: GuideServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke("--dry-run", monkeypatch=monkeypatch, corpus=corpus)

    chosen = {
        line.split("→", 1)[1].strip() for line in result.output.splitlines() if line.strip().startswith("→")
    }
    tebiki = f"{meti.base}/policy/it_policy/investment/dx-chukenchushotebiki"
    assert chosen == {
        f"<{meti.base}/policy/it_policy/investment/dgc/pdf/dgc3.0.pdf>".join(
            ["デジタルガバナンス・コード3.0（PDF形式：2.1MB） ", ""]
        ),
        f"中堅・中小企業等向けDX推進の手引き2025（令和7年）（PDF形式） <{tebiki}/tebiki2025.pdf>",
        f"DX支援ガイダンス：デジタル化から始める中堅・中小企業等の伴走支援アプローチ <{tebiki}/shien.pdf>",
        f"DX認定制度 申請要項（申請の手引き）（PDF形式） <{meti.base}/policy/it_policy/investment/dx-nintei/pdf/youkou.pdf>",
    }
    assert "配布元のページが見つかりません（HTTP 404" in result.output  # DX推進指標's page is gone
    assert "ページが移動しています" in result.output  # the 手引き page answered 301
    assert result.exit_code == 1  # one entry could not be resolved
    assert not any(path.endswith(".pdf") for path, _ in meti.requests)
    assert sorted(p.name for p in corpus.iterdir()) == ["manifest.yaml"]  # no PDF, no lock


def test_fetch_downloads_what_the_pages_offer_and_locks_it(
    corpus: Path, meti: GuideServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = {r.doc_id: r for r in fetch_corpus(corpus)}

    assert {d: r.status for d, r in results.items()} == {
        "dgc-3.0": "downloaded",
        "dx-tebiki-2025": "downloaded",
        "dx-shien-guidance": "downloaded",
        "dx-suishin-shihyo": "failed",
        "dx-nintei-tebiki": "downloaded",
    }
    tebiki = meti.files["/policy/it_policy/investment/dx-chukenchushotebiki/tebiki2025.pdf"]
    assert (corpus / "dx-tebiki-2025.pdf").read_bytes() == tebiki
    lock = read_lock(corpus)
    assert set(lock) == {"dgc-3.0", "dx-tebiki-2025", "dx-shien-guidance", "dx-nintei-tebiki"}
    assert lock["dx-tebiki-2025"].url.endswith("/dx-chukenchushotebiki/tebiki2025.pdf")
    assert lock["dx-tebiki-2025"].page == meti.base + TEBIKI_NEW
    assert lock["dx-tebiki-2025"].sha256 == hashlib.sha256(tebiki).hexdigest()
    assert lock["dx-tebiki-2025"].size == len(tebiki)
    assert lock["dx-tebiki-2025"].fetched.startswith("20")

    # A later fetch trusts the lock: it reads no page and downloads nothing.
    meti.requests.clear()
    again = {r.doc_id: r.status for r in fetch_corpus(corpus, only=["dgc-3.0", "dx-tebiki-2025"])}
    assert again == {"dgc-3.0": "present", "dx-tebiki-2025": "present"}
    assert meti.requests == []


def test_a_pdf_that_changed_at_the_source_is_noticed_and_update_takes_it(
    corpus: Path, meti: GuideServer
) -> None:
    fetch_corpus(corpus, only=["dgc-3.0"])
    (corpus / "dgc-3.0.pdf").unlink()
    path = "/policy/it_policy/investment/dgc/pdf/dgc3.0.pdf"
    meti.files[path] = meti.files[path] + b"\n% revised\n"

    [changed] = fetch_corpus(corpus, only=["dgc-3.0"])

    assert changed.status == "failed"
    assert changed.reason is not None
    assert "前回の取得から変わっています" in changed.reason and "--update" in changed.reason
    assert not (corpus / "dgc-3.0.pdf").exists()

    [updated] = fetch_corpus(corpus, only=["dgc-3.0"], update=True)

    assert updated.status == "updated"
    assert (corpus / "dgc-3.0.pdf").read_bytes() == meti.files[path]
    assert read_lock(corpus)["dgc-3.0"].sha256 == hashlib.sha256(meti.files[path]).hexdigest()


def test_a_new_version_on_the_page_is_shown_by_dry_run_and_fetched_by_update(
    corpus: Path, meti: GuideServer, tmp_path: Path
) -> None:
    fetch_corpus(corpus, only=["dx-tebiki-2025"])
    newer = make_pdf(tmp_path / "newer.pdf", ["改訂版の本文です。"], title="改訂版").read_bytes()
    meti.files["/policy/it_policy/investment/dx-chukenchushotebiki/tebiki2026.pdf"] = newer
    page = meti.files[TEBIKI_NEW].decode()
    meti.files[TEBIKI_NEW] = page.replace(
        '<ul class="linkE">',
        '<ul class="linkE"><li><a href="tebiki2026.pdf">中堅・中小企業等向けDX推進の手引き（令和8年改訂）</a></li>',
    ).encode()

    [kept] = fetch_corpus(corpus, only=["dx-tebiki-2025"], dry_run=True)
    assert kept.status == "present"  # a plain fetch keeps the locked version ...
    assert kept.note is not None and "ページに新しい PDF があります" in kept.note  # ... and says so
    [planned] = fetch_corpus(corpus, only=["dx-tebiki-2025"], dry_run=True, update=True)
    assert planned.status == "planned"
    assert planned.url is not None and planned.url.endswith("tebiki2026.pdf")

    [updated] = fetch_corpus(corpus, only=["dx-tebiki-2025"], update=True)
    assert updated.status == "updated"
    assert (corpus / "dx-tebiki-2025.pdf").read_bytes() == newer
    assert read_lock(corpus)["dx-tebiki-2025"].url.endswith("tebiki2026.pdf")


def test_a_page_without_a_fitting_pdf_names_the_pdfs_it_has(corpus: Path, meti: GuideServer) -> None:
    meti.files[DGC] = _page("デジタルガバナンス・コード", ['<a href="pdf/other.pdf">別の資料（PDF形式）</a>'])

    [result] = fetch_corpus(corpus, only=["dgc-3.0"])

    assert result.status == "failed"
    assert result.reason is not None
    assert "条件に合う PDF がありません" in result.reason and "別の資料" in result.reason


def test_links_are_resolved_against_the_page_and_its_base_tag() -> None:
    html = """<html><head><base href="/docs/"></head><body>
    <a href="a.pdf">A</a><a href="../b.PDF?v=2">B</a><a href="c.html">C</a><a href="a.pdf">A again</a></body></html>"""

    links = pdf_links(html, "https://example.jp/policy/page.html")

    assert [link.url for link in links] == ["https://example.jp/docs/a.pdf", "https://example.jp/b.PDF?v=2"]


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("手引き2.0（令和6年3月）", "手引き2025"),
        ("コード2.0（2022年9月）", "コード3.0（2024年9月）"),
        ("手引き（平成30年）", "手引き（令和元年）"),
        ("資料 20240301", "資料 20250301"),
    ],
)
def test_the_newest_version_comes_first(older: str, newer: str) -> None:
    links = [PdfLink(f"https://x.jp/{i}.pdf", text, text) for i, text in enumerate((older, newer))]

    assert [link.text for link in matching(links, Discovery(page="https://x.jp/"))] == [newer, older]


def test_manifest_rejects_a_broken_file_pattern_in_japanese(tmp_path: Path) -> None:
    from ground.errors import ConfigError
    from ingest.manifest import load_manifest

    (tmp_path / "manifest.yaml").write_text(
        yaml.safe_dump(
            {
                "documents": [
                    {"id": "a", "title": "A", "file": "a.pdf", "discover": {"page": "x", "file_pattern": "("}}
                ]
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="file_pattern の正規表現が正しくありません"):
        load_manifest(tmp_path)


def test_a_locked_pdf_that_disappeared_says_to_look_at_the_page_again(
    corpus: Path, meti: GuideServer
) -> None:
    fetch_corpus(corpus, only=["dgc-3.0"])
    (corpus / "dgc-3.0.pdf").unlink()
    del meti.files["/policy/it_policy/investment/dgc/pdf/dgc3.0.pdf"]

    [gone] = fetch_corpus(corpus, only=["dgc-3.0"])

    assert gone.status == "failed"
    assert gone.reason is not None and "HTTP 404" in gone.reason and "--update" in gone.reason
    assert "download_url" not in gone.reason  # the manifest has none to correct
