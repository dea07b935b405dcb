"""`dxnavi corpus fetch` against a real HTTP server on 127.0.0.1 that serves a real PDF (with Range)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from dxnavi.cli import app
from ground.errors import FetchError
from ingest.fetch import fetch_corpus, part_path
from tests.chroma_server import free_port
from tests.files import make_pdf
from tests.guide_site import GuideServer


@pytest.fixture
def guide_pdf(tmp_path: Path) -> bytes:
    pages = [f"デジタルガバナンス・コード 第{i}章。経営者はDX推進のビジョンを示す。" * 4 for i in range(1, 6)]
    return make_pdf(tmp_path / "source.pdf", pages, title="デジタルガバナンス・コード").read_bytes()


def write_manifest(corpus: Path, entries: list[dict[str, object]]) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    (corpus / "manifest.yaml").write_text(
        yaml.safe_dump({"documents": entries}, allow_unicode=True), encoding="utf-8"
    )


def entry(doc_id: str, url: str, data: bytes | None = None, **extra: object) -> dict[str, object]:
    out: dict[str, object] = {"id": doc_id, "title": "デジタルガバナンス・コード3.0", "file": f"{doc_id}.pdf"}
    out["download_url"] = url
    if data is not None:
        out["sha256"] = hashlib.sha256(data).hexdigest()
        out["size"] = len(data)
    out.update(extra)
    return out


def invoke(*args: str, monkeypatch: pytest.MonkeyPatch, corpus: Path) -> Result:
    monkeypatch.setenv("COLUMNS", "400")  # keep the rich table on one line per row
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(corpus))
    return CliRunner().invoke(app, ["corpus", "fetch", "--quiet", *args])


def test_fetch_downloads_verifies_and_suggests_ingest(
    tmp_path: Path, guide_server: GuideServer, guide_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    guide_server.files["/dgc.pdf"] = guide_pdf
    corpus = tmp_path / "corpus"
    write_manifest(corpus, [entry("dgc-3.0", f"{guide_server.base}/dgc.pdf", guide_pdf)])

    result = invoke(monkeypatch=monkeypatch, corpus=corpus)

    assert result.exit_code == 0, result.output
    assert (corpus / "dgc-3.0.pdf").read_bytes() == guide_pdf
    assert not part_path(corpus / "dgc-3.0.pdf").exists()
    assert "dxnavi ingest" in result.output


def test_fetch_skips_a_file_that_is_already_there_and_verifies(
    tmp_path: Path, guide_server: GuideServer, guide_pdf: bytes
) -> None:
    guide_server.files["/dgc.pdf"] = guide_pdf
    corpus = tmp_path / "corpus"
    write_manifest(corpus, [entry("dgc-3.0", f"{guide_server.base}/dgc.pdf", guide_pdf)])
    (corpus / "dgc-3.0.pdf").write_bytes(guide_pdf)

    [result] = fetch_corpus(corpus)

    assert result.status == "present"
    assert guide_server.requests == []


def test_interrupted_download_keeps_the_part_file_and_resumes_with_a_range_request(
    tmp_path: Path, guide_server: GuideServer, guide_pdf: bytes
) -> None:
    guide_server.files["/dgc.pdf"] = guide_pdf
    guide_server.cut_once.add("/dgc.pdf")
    corpus = tmp_path / "corpus"
    write_manifest(corpus, [entry("dgc-3.0", f"{guide_server.base}/dgc.pdf", guide_pdf)])
    dest = corpus / "dgc-3.0.pdf"

    [first] = fetch_corpus(corpus)

    assert first.status == "failed"
    assert first.reason is not None and "途中で切れました" in first.reason and "再開" in first.reason
    assert not dest.exists()
    kept = part_path(dest).stat().st_size
    assert 0 < kept < len(guide_pdf)

    [second] = fetch_corpus(corpus)

    assert second.status == "resumed"
    assert dest.read_bytes() == guide_pdf
    assert guide_server.requests[-1] == ("/dgc.pdf", f"bytes={kept}-")
    assert not part_path(dest).exists()


def test_part_files_are_hidden_from_ingest(tmp_path: Path) -> None:
    from ingest.pipeline import discover

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    part_path(corpus / "guide.pdf").write_bytes(b"%PDF-1.7 half")

    assert discover(corpus, []) == []


def test_404_fails_with_a_japanese_message_and_nonzero_exit(
    tmp_path: Path, guide_server: GuideServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    write_manifest(corpus, [entry("dgc-3.0", f"{guide_server.base}/moved.pdf")])

    result = invoke(monkeypatch=monkeypatch, corpus=corpus)

    assert result.exit_code == 1
    assert "HTTP 404" in result.output
    assert "download_url を直してください" in result.output
    assert not (corpus / "dgc-3.0.pdf").exists()


def test_sha256_mismatch_is_rejected_and_nothing_is_left_behind(
    tmp_path: Path, guide_server: GuideServer, guide_pdf: bytes
) -> None:
    guide_server.files["/dgc.pdf"] = guide_pdf
    corpus = tmp_path / "corpus"
    write_manifest(corpus, [entry("dgc-3.0", f"{guide_server.base}/dgc.pdf", sha256="0" * 64)])
    dest = corpus / "dgc-3.0.pdf"

    [result] = fetch_corpus(corpus)

    assert result.status == "failed"
    assert result.reason is not None and "sha256 が manifest.yaml の記録と違います" in result.reason
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_offline_fails_fast_and_does_not_try_the_other_documents(
    tmp_path: Path, guide_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the connection is refused at once
    corpus = tmp_path / "corpus"
    write_manifest(corpus, [entry("a", f"{closed}/a.pdf"), entry("b", f"{closed}/b.pdf")])

    results = fetch_corpus(corpus, connect_timeout=1.0)

    assert [r.status for r in results] == ["failed", "failed"]
    assert results[0].reason is not None and "接続できません" in results[0].reason
    assert results[1].reason == "接続できないため試していません。"
    result = invoke(monkeypatch=monkeypatch, corpus=corpus)
    assert result.exit_code == 1
    assert "ネットワーク" in result.output


def test_unknown_document_id_lists_the_valid_ones(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_manifest(corpus, [entry("dgc-3.0", "http://127.0.0.1:9/x.pdf")])

    with pytest.raises(FetchError, match=r"使える文書ID: dgc-3\.0"):
        fetch_corpus(corpus, only=["nope"])


def test_manifest_without_download_urls_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    write_manifest(corpus, [{"id": "a", "title": "A", "file": "a.txt"}])

    result = invoke(monkeypatch=monkeypatch, corpus=corpus)

    assert result.exit_code == 0
    assert "download_url か discover）のある文書がありません" in result.output
