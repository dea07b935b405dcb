"""API benchmark (`dxnavi bench-api`): /v1/chat latency p50/p95 at several concurrency levels over loopback,
time to the first streamed token, and optionally the UI's time from submit to first text in chromium."""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ground.config import Settings

QUESTIONS = [
    "FAXで受発注しているのですが、何から始めればいい？",
    "DX認定のメリットは？",
    "どこに相談すればいいですか？",
    "DX推進指標とは何ですか？",
    "柱3-3には何が書いてありますか？",
    "紙の伝票で在庫を管理しています。何から始めればいい？",
    "DXセレクションに応募するには？",
    "ITコーディネータには何を相談できますか？",
]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Level:
    concurrency: int
    latencies_ms: list[float]
    errors: int
    seconds: float

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


@dataclass
class BenchReport:
    levels: list[Level] = field(default_factory=list)
    first_token_ms: list[float] = field(default_factory=list)
    ui_first_text_ms: list[float] = field(default_factory=list)
    ui_skipped: str | None = None
    machine: str = ""


def question(i: int) -> str:
    """A different text for every request, so that no answer or query vector comes from a cache."""
    return f"{QUESTIONS[i % len(QUESTIONS)]}（相談番号 {i}）"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _level(url: str, concurrency: int, total: int, headers: dict[str, str], first: int = 0) -> Level:
    """`total` requests from `concurrency` clients; request i asks question(first + i), so that levels
    given different `first` never repeat a question (a repeat would be answered from the caches)."""
    import httpx

    latencies: list[float] = []
    errors = 0
    queue = list(range(total))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while queue:
            i = queue.pop()
            body = {"messages": [{"role": "user", "content": question(first + i)}]}
            started = time.perf_counter()
            try:
                response = await http.post(f"{url}/v1/chat", json=body, headers=headers)
            except httpx.HTTPError:
                errors += 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 200:
                latencies.append(elapsed)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Level(concurrency, latencies, errors, seconds)


def first_token_ms(url: str, headers: dict[str, str], n: int = 20) -> list[float]:
    """Time from sending a streamed /v1/chat request to its first `delta` event, one client."""
    import httpx

    out = []
    with httpx.Client(timeout=60) as http:
        for i in range(n):
            body = {"messages": [{"role": "user", "content": question(800_000 + i)}], "stream": True}
            started = time.perf_counter()
            with http.stream("POST", f"{url}/v1/chat", json=body, headers=headers) as response:
                lines = response.iter_lines()
                for line in lines:
                    if line.startswith("event: delta"):
                        out.append((time.perf_counter() - started) * 1000)
                        break
                for _ in lines:  # read the rest so the connection is reused
                    pass
    return out


def ui_first_text_ms(api_url: str, env: dict[str, str], n: int = 5) -> list[float]:
    """Streamlit + chromium: time from pressing Enter in the chat box to the first answer text on screen."""
    from playwright.sync_api import sync_playwright

    from ground.processes import stop_processes, ui_command, wait_until_ready

    port = free_port()
    proc = subprocess.Popen(
        ui_command("127.0.0.1", port),
        env={**env, "DXNAVI_API_URL": api_url},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out = []
    try:
        ui_url = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{ui_url}/_stcore/health", proc, "画面（Streamlit）", 60)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            for i in range(n):
                page.goto(ui_url)
                box = page.get_by_test_id("stChatInputTextArea")
                box.wait_for(timeout=30_000)
                box.fill(question(20_000 + i))
                answer = (
                    page.get_by_test_id("stChatMessage").nth(1).get_by_test_id("stMarkdownContainer").first
                )
                started = time.perf_counter()
                box.press("Enter")
                answer.wait_for(timeout=30_000)
                out.append((time.perf_counter() - started) * 1000)
            browser.close()
    finally:
        stop_processes([proc])
    return out


def run_benchmark(
    settings: Settings,
    levels: list[int],
    requests: int,
    measure_ui: bool = False,
    echo: Callable[[str], None] = print,
    workers: int = 1,
) -> BenchReport:
    """Start the API (extractive mode, no rate limit) on a free loopback port and measure it."""
    from ground.errors import IndexMissingError
    from ground.processes import api_command, child_env, stop_processes, wait_until_ready
    from ingest import index as idx

    if idx.read_current_meta(settings.index_dir) is None:
        raise IndexMissingError(str(settings.index_dir))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = child_env(settings, None)
    env.update({"DXNAVI_RATE_LIMIT_PER_MINUTE": "0", "DXNAVI_LLM_BACKEND": "none"})
    # uvicorn's multi-worker supervisor leaves two semaphores to the resource tracker when it stops:
    # harmless, and not ours — keep its warning out of the figures.
    env["PYTHONWARNINGS"] = "ignore:resource_tracker:UserWarning"
    if os.environ.get("DXNAVI_CONFIG"):
        env["DXNAVI_CONFIG"] = os.environ["DXNAVI_CONFIG"]
    headers = {}
    if settings.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
    proc = subprocess.Popen(
        api_command("127.0.0.1", port, workers=workers, quiet=True), env=env, start_new_session=True
    )
    report = BenchReport(
        machine=f"{platform.machine()} / {os.cpu_count()} CPU / Python {platform.python_version()}"
    )
    try:
        wait_until_ready(f"{url}/readyz", proc, "API サーバー")
        asyncio.run(_level(url, 2, 2 * len(QUESTIONS), headers, first=900_000))  # warm-up
        for n, concurrency in enumerate(levels):
            echo(f"同時接続 {concurrency} で {requests} 件…")
            report.levels.append(asyncio.run(_level(url, concurrency, requests, headers, first=n * 100_000)))
        echo("最初のトークンまでの時間を測っています…")
        report.first_token_ms = first_token_ms(url, headers)
        if measure_ui:
            if not CHROMIUM.exists():
                report.ui_skipped = f"{CHROMIUM} がありません（apt-get install chromium）"
            else:
                echo("画面（chromium）で最初の文字までの時間を測っています…")
                report.ui_first_text_ms = ui_first_text_ms(url, env)
    finally:
        stop_processes([proc])
    return report


def report_rows(report: BenchReport) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for level in report.levels:
        lat = level.latencies_ms or [float("nan")]
        rows.append(
            [
                "POST /v1/chat",
                str(level.concurrency),
                str(len(level.latencies_ms)),
                f"{percentile(lat, 50):.1f}",
                f"{percentile(lat, 95):.1f}",
                f"{level.throughput:.1f}",
                str(level.errors),
            ]
        )
    if report.first_token_ms:
        ft = report.first_token_ms
        rows.append(
            [
                "最初のトークン（SSE）",
                "1",
                str(len(ft)),
                f"{percentile(ft, 50):.1f}",
                f"{percentile(ft, 95):.1f}",
                "",
                "0",
            ]
        )
    if report.ui_first_text_ms:
        ui = report.ui_first_text_ms
        rows.append(
            [
                "画面: 送信→最初の文字",
                "1",
                str(len(ui)),
                f"{percentile(ui, 50):.0f}",
                f"{percentile(ui, 95):.0f}",
                "",
                "0",
            ]
        )
    return rows


def print_report(report: BenchReport, console: Console) -> None:
    from rich.table import Table

    table = Table(
        title=f"DXナビ API ベンチマーク（抜粋モード・ループバック・毎回異なる質問文、{report.machine}）"
    )
    for column in ("測定", "同時接続", "件数", "p50 ms", "p95 ms", "件/秒", "エラー"):
        table.add_column(column, justify="left" if column == "測定" else "right")
    for row in report_rows(report):
        table.add_row(*row)
    console.print(table)
    if report.ui_skipped:
        console.print(f"画面の測定は行いませんでした: {report.ui_skipped}")
    if report.levels:
        by_c = {lv.concurrency: lv for lv in report.levels}
        if 8 in by_c and by_c[8].latencies_ms:
            p95 = percentile(by_c[8].latencies_ms, 95)
            console.print(
                f"目標 p95 ≤ 150 ms（同時接続 8）: {'達成' if p95 <= 150 else '未達'}（{p95:.1f} ms）"
            )
    if report.first_token_ms:
        p95 = percentile(report.first_token_ms, 95)
        console.print(f"目標 最初のトークン ≤ 200 ms: {'達成' if p95 <= 200 else '未達'}（p95 {p95:.1f} ms）")
