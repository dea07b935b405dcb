"""`dxnavi bench` on a small corpus: every figure is measured and written (printed, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench import bench_rows, enough_queries, run_bench, write_bench
from ground.config import PROJECT_ROOT


def test_questions_are_repeated_until_there_are_enough():
    assert enough_queries(["a", "b", "c"], 7) == ["a", "b", "c", "a", "b", "c", "a", "b", "c"]
    with pytest.raises(ValueError, match="questions"):
        enough_queries([], 5)


@pytest.mark.slow
def test_bench_measures_both_systems_and_writes_bench_json(settings, tmp_path: Path):
    text = (PROJECT_ROOT / "corpus" / "meti-dx-policy-overview.txt").read_text(encoding="utf-8")
    small = tmp_path / "small"
    small.mkdir()
    (small / "part.txt").write_text(text[:2500], encoding="utf-8")
    settings = settings.model_copy(update={"corpus_dir": small})
    report = run_bench(
        settings,
        ["DXとは何ですか？", "相談先はどこ？"],
        isolate=False,
        min_queries=10,
        load=1,
        api_workers=[2],
    )
    assert report.queries == 10
    assert report.ours.chunks > 0 and report.baseline.chunks > 0
    ours, baseline = report.ours, report.baseline
    figures = (ours.cold_ingest_s, ours.reingest_s, ours.search_p95_ms, ours.answer_p95_ms, ours.embed_p95_ms)
    for figure in (*figures, baseline.cold_ingest_s, baseline.search_p95_ms):
        assert figure is not None and figure >= 0
    assert report.ours.peak_rss_mb > 0 and ours.cli_cold_s and ours.cli_cold_s > 0
    assert report.load == 1
    # The API ran as a real two-worker server at 1, 8 and 32 clients, without an error.
    assert {"2/1", "2/8", "2/32", "first_token"} <= set(ours.api)
    assert all(ours.api[k]["errors"] == 0 and ours.api[k]["p95"] > 0 for k in ("2/1", "2/8", "2/32"))
    rows = bench_rows(report)
    assert [r[0] for r in rows][:2] == ["初回取り込み (s)", "再取り込み・変更なし (s)"]
    path = write_bench(report, settings.data_dir)
    assert json.loads(path.read_text(encoding="utf-8"))["ours"]["chunks"] == report.ours.chunks
    print("\n".join(" | ".join(r) for r in rows))
