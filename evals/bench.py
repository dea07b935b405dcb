"""`dxnavi bench`: ingest and latency figures for dxnavi and the naive baseline, measured in the same run.

Each system runs in a fresh process (so "cold" is cold and peak RSS is its own) on a temporary data folder.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.metrics import percentile

if TYPE_CHECKING:
    from ground.config import Settings

log = logging.getLogger(__name__)

MIN_QUERIES = 100
# Not in any dataset: warming up on measured questions would pre-fill the index's query-vector cache.
WARMUP_QUERIES = (
    "ウォームアップ用の質問です。",
    "DXの進め方について一般的に知りたい。",
    "補助金の相談はどこでできますか。",
    "社内の紙の書類を減らしたい。",
    "warm-up question about digital transformation",
)
# Targets from the ingest/search and advisor issues (2-core machine).
TARGETS = {
    "cold_ingest_s": 60.0,
    "reingest_s": 3.0,
    "search_p95_ms": 30.0,
    "answer_p95_ms": 100.0,
}


@dataclass
class SystemBench:
    cold_ingest_s: float
    chunks: int
    search_p50_ms: float | None
    search_p95_ms: float | None
    peak_rss_mb: float
    reingest_s: float | None = None
    answer_p50_ms: float | None = None
    answer_p95_ms: float | None = None
    # 1-minute load average of the machine when the timings ended: other work skews the latencies.
    load_avg: float | None = None


@dataclass
class BenchReport:
    queries: int
    corpus_dir: str
    embedding: str
    ours: SystemBench
    baseline: SystemBench
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_ms(call: Callable[[str], Any], queries: Sequence[str]) -> tuple[float | None, float | None]:
    """p50 and p95 in ms of `call` over the queries, after a few warm-up calls with other questions."""
    for q in WARMUP_QUERIES:
        call(q)
    latencies = []
    for q in queries:
        started = time.perf_counter()
        call(q)
        latencies.append((time.perf_counter() - started) * 1000)
    return percentile(latencies, 50), percentile(latencies, 95)


def enough_queries(questions: Sequence[str], minimum: int = MIN_QUERIES) -> list[str]:
    """The questions, repeated in order until there are at least `minimum` (repeats hit the query cache:
    give at least `minimum` distinct questions for honest figures)."""
    if not questions:
        raise ValueError("questions: ベンチマークには質問が1つ以上必要です")
    out: list[str] = []
    while len(out) < minimum:
        out.extend(questions)
    return out


def bench_ours(settings: Settings, queries: list[str]) -> SystemBench:
    """Cold and unchanged re-ingest into a temporary data folder, then warm search and answer latency."""
    from bot.advisor import Advisor
    from bot.schemas import Message
    from ingest.embed import embedder_from_settings
    from ingest.pipeline import run_ingest

    with tempfile.TemporaryDirectory(prefix="dxnavi-bench-") as tmp:
        s = settings.model_copy(update={"data_dir": Path(tmp).resolve()})
        started = time.perf_counter()
        report = run_ingest(s, lambda: embedder_from_settings(s), [], False, False)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        run_ingest(s, lambda: embedder_from_settings(s), [], False, False)
        reingest = time.perf_counter() - started
        advisor = Advisor.from_settings(s)
        search_p50, search_p95 = timed_ms(lambda q: advisor.index.search(q, k=s.retrieve_k), queries)
        _clear_query_cache(advisor.index)
        answer_p50, answer_p95 = timed_ms(lambda q: advisor.ask([Message(role="user", content=q)]), queries)
        return SystemBench(
            cold_ingest_s=cold,
            chunks=report.chunks,
            search_p50_ms=search_p50,
            search_p95_ms=search_p95,
            peak_rss_mb=peak_rss_mb(),
            reingest_s=reingest,
            answer_p50_ms=answer_p50,
            answer_p95_ms=answer_p95,
            load_avg=os.getloadavg()[0],
        )


def _clear_query_cache(index: Any) -> None:
    """Forget query vectors embedded by the search phase, so answers pay for their own embedding."""
    cache = getattr(index, "_query_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def bench_baseline(settings: Settings, queries: list[str]) -> SystemBench:
    """The naive baseline: split + embed + in-memory Chroma (cold, no cache), then warm dense top-5 search."""
    from evals.baseline import NaiveBaseline
    from ingest.embed import embedder_from_settings

    with tempfile.TemporaryDirectory(prefix="dxnavi-bench-") as tmp:
        s = settings.model_copy(update={"data_dir": Path(tmp).resolve()})
        started = time.perf_counter()
        naive = NaiveBaseline.build(s, embedder_from_settings(s), cache_file=None)
        cold = time.perf_counter() - started
        search_p50, search_p95 = timed_ms(naive.search, queries)
        return SystemBench(
            cold_ingest_s=cold,
            chunks=len(naive.chunks),
            search_p50_ms=search_p50,
            search_p95_ms=search_p95,
            peak_rss_mb=peak_rss_mb(),
            load_avg=os.getloadavg()[0],
        )


def _in_fresh_process(
    func: Callable[[Settings, list[str]], SystemBench], settings: Settings, queries: list[str]
) -> SystemBench:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(func, settings, queries).result()


def run_bench(
    settings: Settings, questions: Sequence[str], isolate: bool = True, min_queries: int = MIN_QUERIES
) -> BenchReport:
    """Benchmark both systems on the configured corpus; `isolate` runs each in its own fresh process."""
    queries = enough_queries(list(questions), min_queries)
    run: Callable[[Callable[[Settings, list[str]], SystemBench], Settings, list[str]], SystemBench] = (
        _in_fresh_process if isolate else (lambda func, s, q: func(s, q))
    )
    ours = run(bench_ours, settings, queries)
    baseline = run(bench_baseline, settings, queries)
    return BenchReport(
        queries=len(queries),
        corpus_dir=str(settings.corpus_dir),
        embedding=f"{settings.embedding_engine}:{settings.embedding_model}",
        ours=ours,
        baseline=baseline,
    )


def bench_rows(report: BenchReport) -> list[tuple[str, str, str, str, str]]:
    """(label, ours, baseline, target, verdict) rows for the printed table and the README."""

    def num(value: float | None, digits: int = 1) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    def verdict(key: str, value: float | None) -> str:
        if key not in TARGETS or value is None:
            return ""
        return "OK" if value <= TARGETS[key] else "未達"

    o, b = report.ours, report.baseline
    return [
        (
            "初回取り込み (s)",
            num(o.cold_ingest_s),
            num(b.cold_ingest_s),
            "≤ 60",
            verdict("cold_ingest_s", o.cold_ingest_s),
        ),
        ("再取り込み・変更なし (s)", num(o.reingest_s, 2), "—", "≤ 3", verdict("reingest_s", o.reingest_s)),
        ("検索 p50 (ms)", num(o.search_p50_ms), num(b.search_p50_ms), "", ""),
        (
            "検索 p95 (ms)",
            num(o.search_p95_ms),
            num(b.search_p95_ms),
            "≤ 30",
            verdict("search_p95_ms", o.search_p95_ms),
        ),
        ("回答 p50 (ms)", num(o.answer_p50_ms), "—", "", ""),
        ("回答 p95 (ms)", num(o.answer_p95_ms), "—", "≤ 100", verdict("answer_p95_ms", o.answer_p95_ms)),
        ("ピークRSS (MB)", num(o.peak_rss_mb, 0), num(b.peak_rss_mb, 0), "", ""),
        ("チャンク数", str(o.chunks), str(b.chunks), "", ""),
        ("負荷平均（測定終了時、1分）", num(o.load_avg, 2), num(b.load_avg, 2), "", ""),
    ]


def write_bench(report: BenchReport, data_dir: Path) -> Path:
    """Write bench.json into the data folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "bench.json"
    path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return path
