"""`dxnavi search` / `dxnavi ingest` through the real CLI, and the LangChain HybridRetriever."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from typer.testing import CliRunner, Result

from bot.retrieve import MAX_QUERY_CHARS
from bot.retriever import HybridRetriever
from dxnavi.cli import app
from ground.errors import QueryError
from tests.conftest import BuiltIndex
from tests.files import make_text_file

RESULT_KEYS = {"chunk_id", "doc_id", "title", "page", "heading", "text", "score", "clause", "superseded_by"}


@pytest.fixture
def use_built_index(built_index: BuiltIndex, monkeypatch: pytest.MonkeyPatch) -> BuiltIndex:
    """Point the CLI at the session's index of the bundled corpus."""
    monkeypatch.setenv("DXNAVI_DATA_DIR", str(built_index.settings.data_dir))
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(built_index.settings.corpus_dir))
    return built_index


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps table cells at 80 columns when there is no terminal; keep reasons on one line."""
    monkeypatch.setenv("COLUMNS", "250")


def dxnavi(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def search_json(query: str, k: int = 3) -> list[dict]:
    result = dxnavi("search", query, "-k", str(k), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"]


# --- finding the right passage ------------------------------------------------------------------------


@pytest.mark.usefixtures("use_built_index")
@pytest.mark.parametrize(
    ("query", "passage"),
    [
        ("DX認定を取ると融資の利率は？", "1.30%"),
        ("デジタルガバナンス・コードの5つの柱", "5つの柱"),
        ("FAXで受発注している", "受発注をFAXや電話のみで実施"),
        ("ITコーディネータとは", "ITコーディネータは「デジタル経営とDXを実現するプロフェッショナル」"),
    ],
)
def test_search_finds_the_right_passage_in_its_top_three(query: str, passage: str) -> None:
    results = search_json(query, k=3)

    assert any(passage in r["text"] for r in results), [r["text"][:60] for r in results]


@pytest.mark.usefixtures("use_built_index")
def test_loan_rate_question_finds_the_dx_certification_support_slide_first() -> None:
    top = search_json("DX認定を取ると融資の利率は？", k=3)[0]

    assert top["heading"] == "DX認定事業者への各種支援措置"
    assert "1.30%" in top["text"]


@pytest.mark.usefixtures("use_built_index")
def test_search_json_has_one_object_with_results_of_the_documented_shape() -> None:
    result = dxnavi("search", "DX認定のメリット", "-k", "5", "--json")

    payload = json.loads(result.stdout)
    assert result.exit_code == 0
    assert payload["results"] and len(payload["results"]) == 5
    for item in payload["results"]:
        assert set(item) == RESULT_KEYS
        assert item["doc_id"] == "meti-dx-policy-overview"
        assert item["title"] == "経済産業省 企業DX推進施策 説明資料（2025年）"
        assert isinstance(item["page"], int) and isinstance(item["score"], float)
    scores = [item["score"] for item in payload["results"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.usefixtures("use_built_index")
def test_search_prints_rank_title_slide_heading_and_text() -> None:
    result = dxnavi("search", "DX認定を取ると融資の利率は？", "-k", "2")

    assert result.exit_code == 0
    assert "1. 経済産業省 企業DX推進施策 説明資料（2025年） ／ p." in result.stdout
    assert "DX認定事業者への各種支援措置" in result.stdout
    assert "1.30%" in result.stdout
    assert "2. " in result.stdout


@pytest.mark.usefixtures("use_built_index")
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "質問が空です"),
        ("  \u3000 \n", "質問が空です"),
        ("あ" * (MAX_QUERY_CHARS + 1), "質問が長すぎます"),
    ],
)
def test_bad_query_gets_a_japanese_error_and_non_zero_exit(query: str, message: str) -> None:
    result = dxnavi("search", query)

    assert result.exit_code != 0
    assert message in result.output


def test_search_without_an_index_says_to_run_ingest() -> None:
    result = dxnavi("search", "DX認定")

    assert result.exit_code != 0
    assert "`dxnavi ingest` を実行して索引を作ってください" in result.output


# --- dxnavi ingest ----------------------------------------------------------------------------------------


@pytest.fixture
def cli_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    corpus = tmp_path / "cli-corpus"
    corpus.mkdir()
    make_text_file(corpus / "subsidy.txt", "IT導入補助金は、会計ソフトの導入費用の一部を補助する制度です。")
    make_text_file(
        corpus / "cp932.txt", "DX認定を取得すると、特別利率で融資を受けられます。", encoding="cp932"
    )
    (corpus / "empty.txt").write_bytes(b"")
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(corpus))
    return corpus


@pytest.mark.usefixtures("cli_corpus")
def test_ingest_prints_a_summary_table_with_a_reason_per_skipped_file() -> None:
    result = dxnavi("ingest", "-q")

    assert result.exit_code == 0, result.output
    assert "取り込み結果" in result.stdout
    for column in ("ファイル", "状態", "文書ID", "ページ", "チャンク", "理由"):
        assert column in result.stdout
    assert result.stdout.count("索引済み") == 2
    assert "スキップ" in result.stdout and "空のファイルです（0 バイト）" in result.stdout
    assert "ファイル 2 件・ページ 2・チャンク 2（新たに埋め込み 2、再利用 0）" in result.stdout


@pytest.mark.usefixtures("cli_corpus")
def test_second_cli_ingest_says_the_index_is_up_to_date() -> None:
    assert dxnavi("ingest", "-q").exit_code == 0

    result = dxnavi("ingest", "-q")

    assert result.exit_code == 0
    assert "索引は最新です" in result.stdout
    assert "変更なし" in result.stdout


@pytest.mark.usefixtures("cli_corpus")
def test_cli_ingest_then_search_finds_a_shift_jis_document() -> None:
    dxnavi("ingest", "-q")

    results = search_json("融資の特別利率", k=1)

    assert results[0]["doc_id"] == "cp932"


def test_ingest_of_a_missing_extra_path_is_refused(tmp_path: Path) -> None:
    result = dxnavi("ingest", "-q", str(tmp_path / "nowhere.pdf"))

    assert result.exit_code != 0
    assert "ファイルが見つかりません" in result.output


# --- the LangChain retriever -------------------------------------------------------------------------------


def test_hybrid_retriever_is_a_langchain_retriever_returning_documents(built_index: BuiltIndex) -> None:
    retriever = HybridRetriever(index=built_index.index, k=3)

    docs = retriever.invoke("DX認定を取ると融資の利率は？")

    assert isinstance(retriever, BaseRetriever)
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    chunk = built_index.index.by_id[top.metadata["chunk_id"]]
    assert top.id == chunk.chunk_id
    assert top.page_content == chunk.text
    assert top.metadata == {
        "chunk_id": chunk.chunk_id,
        "doc_id": "meti-dx-policy-overview",
        "title": "経済産業省 企業DX推進施策 説明資料（2025年）",
        "page": chunk.page,
        "heading": chunk.heading,
        "start": chunk.start,
        "end": chunk.end,
        "score": top.metadata["score"],
        "url": "https://www.meti.go.jp/policy/it_policy/investment/dgc/dgc.html",
    }


def test_hybrid_retriever_filters_by_document(built_index: BuiltIndex) -> None:
    assert HybridRetriever(index=built_index.index, k=3, doc_ids=["meti-dx-policy-overview"]).invoke("DX認定")
    assert HybridRetriever(index=built_index.index, k=3, doc_ids=["no-such-doc"]).invoke("DX認定") == []


def test_hybrid_search_fuses_lexical_and_dense_rankings(built_index: BuiltIndex) -> None:
    hits = built_index.index.search("DX認定を取ると融資の利率は？", k=5)

    assert hits[0].bm25_rank is not None and hits[0].dense_rank is not None
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_query_is_normalized_like_the_index(built_index: BuiltIndex) -> None:
    full_width = built_index.index.search("ＤＸ認定を取ると融資の利率は？", k=1)
    half_width = built_index.index.search("DX認定を取ると融資の利率は？", k=1)

    assert full_width[0].chunk.chunk_id == half_width[0].chunk.chunk_id


def test_search_index_refuses_an_empty_query(built_index: BuiltIndex) -> None:
    with pytest.raises(QueryError, match="質問が空です"):
        built_index.index.search("   ")
