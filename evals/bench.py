"""`dxnavi bench`: every speed figure of dxnavi and of the naive LangChain baseline, in one run.

Each system runs in a fresh process (so "cold" is cold and peak RSS is its own) on a temporary data folder:
ingest (cold, unchanged), search and answer latency, the floor (one query embedding alone), the command
line's cold start (`dxnavi ask`, a new process), and the API at 1/8/32 clients with 1 and 2 workers.
`--load N` runs N CPU-burning processes throughout, so that "fast on a busy machine" is measured.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
# Targets (2-core machine, quiet); with --load the command line may take 3× its target.
TARGETS = {
    "cold_ingest_s": 30.0,
    "reingest_s": 3.0,
    "search_p95_ms": 30.0,
    "answer_p95_ms": 100.0,
    "cli_cold_s": 2.0,
    "api_p95_8": 100.0,
    "api_p95_32": 400.0,
    "first_token_p95_ms": 150.0,
}
CLI_RUNS = 3
API_REQUESTS = 96


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
    # The floor: one query embedding alone (the part of a search no code of ours can remove).
    embed_p50_ms: float | None = None
    embed_p95_ms: float | None = None
    cli_cold_s: float | None = None  # `dxnavi ask …` end to end in a new process, median of CLI_RUNS
    # API: "workers/clients" → {"p50", "p95", "per_s", "errors"}; "first_token" → {"p50", "p95"}.
    api: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class BenchReport:
    queries: int
    corpus_dir: str
    embedding: str
    ours: SystemBench
    baseline: SystemBench
    load: int = 0  # CPU-burning processes running during the measurement
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


def bench_ours(settings: Settings, queries: list[str], api_workers: Sequence[int] = (1, 2)) -> SystemBench:
    """Cold and unchanged re-ingest into a temporary data folder, then warm search and answer latency,
    the embedding floor, the command line's cold start and the API."""
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
        embed_p50, embed_p95 = timed_ms(advisor.index.embedder.embed_query, [f"{q} " for q in queries])
        rss = peak_rss_mb()
        cli = cli_cold_start_s(s, queries[0])
        api = api_figures(s, api_workers)
        return SystemBench(
            cold_ingest_s=cold,
            chunks=report.chunks,
            search_p50_ms=search_p50,
            search_p95_ms=search_p95,
            peak_rss_mb=rss,
            reingest_s=reingest,
            answer_p50_ms=answer_p50,
            answer_p95_ms=answer_p95,
            load_avg=os.getloadavg()[0],
            embed_p50_ms=embed_p50,
            embed_p95_ms=embed_p95,
            cli_cold_s=cli,
            api=api,
        )


def cli_cold_start_s(settings: Settings, question: str, runs: int = CLI_RUNS) -> float:
    """Median wall time of `dxnavi ask QUESTION` in a new process (imports, index load, answer, print)."""
    script = Path(sys.executable).with_name("dxnavi")
    command = (
        [str(script)] if script.is_file() else [sys.executable, "-c", "from dxnavi.cli import app; app()"]
    )
    env = {
        **os.environ,
        "DXNAVI_DATA_DIR": str(settings.data_dir),
        "DXNAVI_CORPUS_DIR": str(settings.corpus_dir),
    }
    times = []
    for i in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [*command, "ask", f"{question}（{i}）"], env=env, capture_output=True, check=True, timeout=300
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def api_figures(settings: Settings, workers: Sequence[int]) -> dict[str, dict[str, float]]:
    """The API (a real server process, loopback) at 1/8/32 clients for each worker count."""
    from evals.bench_api import percentile, run_benchmark

    out: dict[str, dict[str, float]] = {}
    for count in workers:
        report = run_benchmark(settings, [1, 8, 32], API_REQUESTS, workers=count, echo=lambda _: None)
        for level in report.levels:
            lat = level.latencies_ms or [float("nan")]
            out[f"{count}/{level.concurrency}"] = {
                "p50": percentile(lat, 50),
                "p95": percentile(lat, 95),
                "per_s": level.throughput,
                "errors": float(level.errors),
            }
        if count == workers[0] and report.first_token_ms:
            ft = report.first_token_ms
            out["first_token"] = {"p50": percentile(ft, 50), "p95": percentile(ft, 95)}
    return out


@contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    """`processes` CPU-burning processes for the duration: a busy machine, measured rather than assumed."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _clear_query_cache(index: Any) -> None:
    """Forget query vectors embedded by the search phase, so answers pay for their own embedding."""
    cache = getattr(index, "_query_cache", None)
    if isinstance(cache, dict):
        cache.clear()


def bench_baseline(settings: Settings, queries: list[str], api_workers: Sequence[int] = ()) -> SystemBench:
    """The naive baseline: split + embed + in-memory Chroma (cold, no cache), then warm dense top-5 search."""
    from evals.baseline import NaiveBaseline
    from ingest.embed import embedder_from_settings

    with tempfile.TemporaryDirectory(prefix="dxnavi-bench-") as tmp:
        s = settings.model_copy(update={"data_dir": Path(tmp).resolve()})
        started = time.perf_counter()
        naive = NaiveBaseline.build(s, embedder_from_settings(s), cache_file=None)
        cold = time.perf_counter() - started
        search_p50, search_p95 = timed_ms(naive.search, queries)
        embedder = embedder_from_settings(s)
        embed_p50, embed_p95 = timed_ms(embedder.embed_query, [f"{q} " for q in queries])
        return SystemBench(
            cold_ingest_s=cold,
            chunks=len(naive.chunks),
            search_p50_ms=search_p50,
            search_p95_ms=search_p95,
            peak_rss_mb=peak_rss_mb(),
            load_avg=os.getloadavg()[0],
            embed_p50_ms=embed_p50,
            embed_p95_ms=embed_p95,
        )


def _in_fresh_process(
    func: Callable[[Settings, list[str], Sequence[int]], SystemBench],
    settings: Settings,
    queries: list[str],
    api_workers: Sequence[int],
) -> SystemBench:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(func, settings, queries, api_workers).result()


def run_bench(
    settings: Settings,
    questions: Sequence[str],
    isolate: bool = True,
    min_queries: int = MIN_QUERIES,
    load: int = 0,
    api_workers: Sequence[int] = (1, 2),
) -> BenchReport:
    """Benchmark both systems on the configured corpus; `isolate` runs each in its own fresh process,
    `load` CPU burners run throughout, `api_workers` lists the API worker counts to measure."""
    queries = enough_queries(list(questions), min_queries)
    run = _in_fresh_process if isolate else (lambda func, s, q, w: func(s, q, w))
    with cpu_load(load):
        ours = run(bench_ours, settings, queries, api_workers)
        baseline = run(bench_baseline, settings, queries, ())
    return BenchReport(
        queries=len(queries),
        corpus_dir=str(settings.corpus_dir),
        embedding=f"{settings.embedding_engine}:{settings.embedding_model}",
        ours=ours,
        baseline=baseline,
        load=load,
    )


def bench_rows(report: BenchReport) -> list[tuple[str, str, str, str, str, str]]:
    """(label, ours, baseline, ratio, target, verdict) rows for the printed table and the README."""

    def num(value: float | None, digits: int = 1) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    def ratio(ours: float | None, base: float | None) -> str:
        return "—" if ours is None or not base else f"{ours / base:.2f}×"

    def verdict(key: str, value: float | None) -> str:
        if key not in TARGETS or value is None:
            return ""
        limit = TARGETS[key] * (3 if key == "cli_cold_s" and report.load else 1)
        return "OK" if value <= limit else "未達"

    o, b = report.ours, report.baseline
    cli_target = f"≤ {TARGETS['cli_cold_s'] * (3 if report.load else 1):g}"
    rows = [
        ("初回取り込み (s)", num(o.cold_ingest_s), num(b.cold_ingest_s), ratio(o.cold_ingest_s, b.cold_ingest_s),
         "≤ 30", verdict("cold_ingest_s", o.cold_ingest_s)),
        ("再取り込み・変更なし (s)", num(o.reingest_s, 2), "—", "—", "≤ 3", verdict("reingest_s", o.reingest_s)),
        ("埋め込み1件（床）p50 / p95 (ms)", f"{num(o.embed_p50_ms)} / {num(o.embed_p95_ms)}",
         f"{num(b.embed_p50_ms)} / {num(b.embed_p95_ms)}", ratio(o.embed_p95_ms, b.embed_p95_ms), "", ""),
        ("検索 p50 (ms)", num(o.search_p50_ms), num(b.search_p50_ms), ratio(o.search_p50_ms, b.search_p50_ms), "", ""),
        ("検索 p95 (ms)", num(o.search_p95_ms), num(b.search_p95_ms), ratio(o.search_p95_ms, b.search_p95_ms),
         "≤ 30", verdict("search_p95_ms", o.search_p95_ms)),
        ("回答 p50 (ms)", num(o.answer_p50_ms), "—", "—", "", ""),
        ("回答 p95 (ms)", num(o.answer_p95_ms), "—", "—", "≤ 100", verdict("answer_p95_ms", o.answer_p95_ms)),
        ("CLI 起動〜回答 `dxnavi ask` (s)", num(o.cli_cold_s, 2), "—", "—", cli_target,
         verdict("cli_cold_s", o.cli_cold_s)),
    ]  # fmt: skip
    for key, figures in o.api.items():
        if key == "first_token":
            continue
        workers, clients = key.split("/")
        target_key = f"api_p95_{clients}"
        target = f"≤ {TARGETS[target_key]:g}" if target_key in TARGETS else ""
        rows.append((
            f"API {clients}接続・{workers}ワーカー p50 / p95 (ms)、件/秒",
            f"{figures['p50']:.0f} / {figures['p95']:.0f}、{figures['per_s']:.0f}"
            + (f"（エラー {figures['errors']:.0f}）" if figures["errors"] else ""),
            "—", "—", target, verdict(target_key, figures["p95"]) if not figures["errors"] else "未達",
        ))  # fmt: skip
    if "first_token" in o.api:
        ft = o.api["first_token"]
        rows.append(("API 最初のトークン p50 / p95 (ms)", f"{ft['p50']:.0f} / {ft['p95']:.0f}", "—", "—",
                     "≤ 150", verdict("first_token_p95_ms", ft["p95"])))  # fmt: skip
    rows += [
        ("ピークRSS (MB)", num(o.peak_rss_mb, 0), num(b.peak_rss_mb, 0), ratio(o.peak_rss_mb, b.peak_rss_mb), "", ""),
        ("チャンク数", str(o.chunks), str(b.chunks), "", "", ""),
        ("負荷平均（測定終了時、1分）", num(o.load_avg, 2), num(b.load_avg, 2), "", "", ""),
    ]  # fmt: skip
    return rows


def write_bench(report: BenchReport, data_dir: Path) -> Path:
    """Write bench.json into the data folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "bench.json"
    path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return path
