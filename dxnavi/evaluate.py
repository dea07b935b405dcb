"""`dxnavi eval`, `dxnavi bench` and `dxnavi bench-api`, registered on the main typer app by dxnavi.cli."""
# No `from __future__ import annotations`: typer reads the option types, some of which are local names.

from pathlib import Path
from typing import Annotated

import typer

from evals.dataset import DATASETS

DEFAULT_DATASET = DATASETS / "public.jsonl"
DEFAULT_CONVERSATIONS = DATASETS / "conversations.jsonl"


def register(app: typer.Typer) -> None:
    """Add the `eval`, `bench` and `bench-api` commands to the app."""
    # Imported here: dxnavi.cli imports this module while it is still being initialised.
    from rich.table import Table

    from dxnavi.cli import ConfigOption, console, err_console, handle_errors, settings_for
    from evals.thresholds import DEFAULT_THRESHOLDS

    @app.command("eval")
    @handle_errors
    def eval_command(
        dataset: Annotated[
            Path, typer.Option("--dataset", help="評価データ（JSON Lines）")
        ] = DEFAULT_DATASET,
        config: ConfigOption = None,
        baseline: Annotated[
            bool, typer.Option("--baseline", help="素朴な RAG 構成も同じ実行で評価して並べる")
        ] = False,
        out: Annotated[
            Path | None, typer.Option("--out", help="結果を書くフォルダ（既定: <data_dir>/evals）")
        ] = None,
        gate: Annotated[
            bool, typer.Option("--gate", help="CI 用: 公開セットをしきい値で判定（ベースラインなし）")
        ] = False,
        compare: Annotated[
            tuple[Path, Path] | None,
            typer.Option("--compare", help="2つの実行結果フォルダ OLD NEW を比較する（評価は実行しない）"),
        ] = None,
        thresholds: Annotated[
            Path, typer.Option("--thresholds", help="しきい値ファイル（YAML）")
        ] = DEFAULT_THRESHOLDS,
        judge: Annotated[
            bool | None, typer.Option("--judge/--no-judge", help="LLM による採点（既定: LLM 設定時のみ）")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="進捗バーを出さない")] = False,
        conversations: Annotated[
            Path | None,
            typer.Option("--conversations", help="会話（追質問）の評価データ（既定: 同梱の会話セット）"),
        ] = DEFAULT_CONVERSATIONS,
        no_conversations: Annotated[
            bool, typer.Option("--no-conversations", help="会話セットを評価しない")
        ] = False,
    ) -> None:
        """評価データでDXナビ（と任意でベースライン）を評価し、レポートを書き、しきい値で判定する。"""
        from evals.compare import compare_runs
        from evals.report import METRIC_LABELS, SYSTEM_LABELS, fmt, headline_rows
        from evals.runner import run_eval
        from evals.thresholds import check, load_thresholds

        limits = load_thresholds(thresholds)
        if compare is not None:
            old_dir, new_dir = compare
            deltas, path = compare_runs(old_dir, new_dir, limits.tolerance, limits.latency_tolerance)
            overall = {(d.system, d.split, d.metric): d for d in deltas if d.scope == "overall"}
            for system in dict.fromkeys(d.system for d in overall.values()):
                table = Table(
                    title=f"比較（{SYSTEM_LABELS.get(system, system)}）: {old_dir.name} → {new_dir.name}"
                )
                table.add_column("指標", no_wrap=True)
                for split in ("tune", "heldout", "all"):
                    table.add_column(f"{split}: 新（差）", justify="right", no_wrap=True)
                for metric in dict.fromkeys(k[2] for k in overall if k[0] == system):
                    cells = []
                    for split in ("tune", "heldout", "all"):
                        d = overall.get((system, split, metric))
                        if d is None:
                            cells.append("")
                            continue
                        change = (
                            "—"
                            if d.change is None
                            else ("+" if d.change >= 0 else "") + fmt(d.change, metric)
                        )
                        cell = f"{fmt(d.new, metric)} ({change})"
                        cells.append(f"[bold red]{cell} ▼[/]" if d.regression else cell)
                    table.add_row(METRIC_LABELS.get(metric, metric), *cells)
                console.print(table)
            console.print(f"差分を書きました: {path}")
            regressions = [d for d in deltas if d.regression]
            if regressions:
                for d in regressions:
                    name = METRIC_LABELS.get(d.metric, d.metric)
                    err_console.print(
                        f"[bold red]悪化:[/] {SYSTEM_LABELS.get(d.system, d.system)} {d.split} "
                        f"{name} {fmt(d.old, d.metric)} → {fmt(d.new, d.metric)}"
                    )
                raise typer.Exit(1)
            console.print("悪化した指標はありません。")
            return

        settings = settings_for(config)
        if gate:
            baseline, judge = False, False
        run = run_eval(
            settings,
            dataset,
            out or settings.data_dir / "evals",
            baseline=baseline,
            judge=judge,
            progress=not quiet,
            conversations=None if no_conversations else conversations,
        )
        header, rows = headline_rows(run.metrics, narrow=True)
        systems = " / ".join(SYSTEM_LABELS[s] for s in run.metrics["systems"])
        table = Table(title=f"評価結果（{run.metrics['items']} 問、各欄 {systems}）")
        for i, column in enumerate(header):
            table.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print(f"レポート: {run.run_dir / 'report.html'}")
        failures = check(run.metrics, limits)
        if failures:
            err_console.print(f"[bold red]しきい値を満たしていません[/]（{thresholds}）:")
            for failure in failures:
                err_console.print(
                    f"  - {METRIC_LABELS.get(failure.metric, failure.metric)}: {failure.message}"
                )
            raise typer.Exit(1)
        console.print(f"[green]しきい値をすべて満たしました[/]（{thresholds.name}）。")

    @app.command("bench")
    @handle_errors
    def bench_command(
        config: ConfigOption = None,
        dataset: Annotated[
            Path, typer.Option("--dataset", help="検索・回答に使う質問（JSON Lines）")
        ] = DEFAULT_DATASET,
        load: Annotated[
            int, typer.Option("--load", min=0, help="測定中に CPU を使い切るプロセスをこの数だけ動かす")
        ] = 0,
        api_workers: Annotated[
            list[int] | None,
            typer.Option("--api-workers", min=1, help="API のワーカー数（複数可、既定: 1 と 2）"),
        ] = None,
    ) -> None:
        """取り込み・検索・回答・CLI 起動・API（1/8/32 接続）の速度とメモリを、素朴な RAG 構成と並べて測る。"""
        from evals.bench import bench_rows, run_bench, write_bench
        from evals.dataset import load_dataset

        settings = settings_for(config)
        questions = [item.question for item in load_dataset(dataset)]
        busy = f"、CPU 負荷プロセス {load} 個" if load else ""
        with console.status(f"測定中（取り込み・検索・回答・CLI・API、ベースライン{busy}）… 数分かかります"):
            report = run_bench(settings, questions, load=load, api_workers=api_workers or [1, 2])
        table = Table(title=f"ベンチマーク（{report.queries} 問、{report.embedding}{busy}）")
        for i, column in enumerate(("項目", "DXナビ", "ベースライン", "比", "目標", "判定")):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in bench_rows(report):
            table.add_row(*row, style="red" if row[5] == "未達" else None)
        console.print(table)
        console.print(f"結果を書きました: {write_bench(report, settings.data_dir)}")

    @app.command("bench-guides")
    @handle_errors
    def bench_guides_command(
        config: ConfigOption = None,
        pages: Annotated[
            list[int] | None,
            typer.Option("--pages", min=24, help="生成するガイドのページ数（複数可、既定: 30・80・120）"),
        ] = None,
        load: Annotated[
            int, typer.Option("--load", min=0, help="測定中に CPU を使い切るプロセスをこの数だけ動かす")
        ] = 0,
    ) -> None:
        """全文のガイドの取り込み時間を、ガイドの形に合わせて生成した PDF（30・80・120 ページ）で測る。"""
        from evals.bench_guides import SIZES, bench_guides

        settings = settings_for(config)
        busy = f"、CPU 負荷プロセス {load} 個" if load else ""
        with console.status(f"ガイド形式の PDF を生成して取り込み中{busy}… 数分かかります"):
            rows = bench_guides(settings, pages or SIZES, load=load)
        table = Table(title=f"全文ガイドの取り込み（{settings.embedding_engine}{busy}）")
        for i, column in enumerate(
            ("文書", "ページ", "チャンク", "埋め込み数", "読込 s", "埋め込み s", "書込 s", "合計 s")
        ):
            table.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
        for r in rows:
            table.add_row(
                r.label,
                str(r.pages),
                str(r.chunks),
                str(r.texts_embedded),
                f"{r.read_s:.1f}",
                f"{r.embed_s:.1f}",
                f"{r.write_s:.1f}",
                f"{r.total_s:.1f}",
            )
        console.print(table)

    @app.command("bench-api")
    @handle_errors
    def bench_api(
        requests: Annotated[
            int, typer.Option("--requests", "-n", min=1, help="各同時接続数で送るリクエスト数")
        ] = 64,
        concurrency: Annotated[
            list[int] | None, typer.Option("--concurrency", "-C", help="同時接続数（複数可）")
        ] = None,
        ui: Annotated[
            bool, typer.Option("--ui/--no-ui", help="ブラウザで画面の最初の文字までの時間も測る")
        ] = False,
        workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="API のワーカー数")] = 1,
        load: Annotated[
            int, typer.Option("--load", min=0, help="測定中に CPU を使い切るプロセスをこの数だけ動かす")
        ] = 0,
        config: ConfigOption = None,
    ) -> None:
        """API の応答時間（p50/p95）と最初のトークンまでの時間を測る（抜粋モード、ループバック）。"""
        from evals.bench import cpu_load
        from evals.bench_api import print_report, run_benchmark

        settings = settings_for(config)
        with cpu_load(load):
            report = run_benchmark(
                settings,
                concurrency or [1, 8, 32],
                requests,
                measure_ui=ui,
                echo=console.print,
                workers=workers,
            )
        print_report(report, console)
