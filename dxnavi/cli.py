"""The `dxnavi` command line (typer). Errors become Japanese messages and exit codes here only."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ground.config import Settings, load_settings
from ground.errors import DxnaviError

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport

app = typer.Typer(
    help="DXナビ: 中小企業のDX相談アドバイザー", no_args_is_help=True, pretty_exceptions_enable=False
)
corpus_app = typer.Typer(help="コーパス（元になる文書）の管理", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="設定ファイル（YAML/TOML）。環境変数 DXNAVI_* が優先されます"),
]
F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn DxnaviError into a Japanese message on stderr and its exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DxnaviError as exc:
            err_console.print(f"[bold red]エラー:[/] {exc.message}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="詳しいログを出す")] = False) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(level)  # bm25s sets itself to DEBUG on import


def settings_for(config: Path | None, **overrides: Any) -> Settings:
    return load_settings(config, **overrides)


@app.command()
@handle_errors
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="追加で取り込むファイルやフォルダ")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="索引を最初から作り直す")] = False,
    config: ConfigOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="進捗バーを出さない")] = False,
) -> None:
    """コーパスを読み込んで索引（Chroma + BM25）を作る。変更がなければ何もしない。"""
    from bot import vectors
    from ingest.embed import embedder_from_settings
    from ingest.pipeline import run_ingest

    settings = settings_for(config)
    requested = _requested_files(paths or [])
    report = run_ingest(settings, lambda: embedder_from_settings(settings), paths or [], rebuild, not quiet)
    # The advisor's example questions too, so that the first start after this embeds nothing.
    prepared = vectors.prepare(
        settings.embedding_model,
        settings.data_dir / "cache",
        lambda: embedder_from_settings(settings).embed_queries,
    )
    table = Table(title="取り込み結果")
    for column in ("ファイル", "状態", "文書ID", "ページ", "チャンク", "理由"):
        table.add_column(column)
    labels = {"indexed": "[green]索引済み[/]", "unchanged": "変更なし", "skipped": "[yellow]スキップ[/]"}
    for f in report.files:
        table.add_row(
            f.path.name, labels[f.status], f.doc_id or "", str(f.pages), str(f.chunks), f.reason or ""
        )
    console.print(table)
    quarantined = [(f.path.name, q) for f in report.files for q in f.quarantined]
    if quarantined:
        console.print(
            f"[yellow]AIへの指示のような文 {len(quarantined)} 件を索引から除きました（引用も、LLM への"
            "受け渡しもしません）。[/]ファイルの出どころを確かめてください:"
        )
        for name, sentence in quarantined:
            console.print(f"  - {name} {sentence}", markup=False)
    if report.changed:
        console.print(
            f"ファイル {report.indexed_files} 件・ページ {report.pages}・チャンク {report.chunks}"
            f"（新たに埋め込み {report.embedded}、再利用 {report.reused}）・{report.seconds:.1f} 秒"
        )
        stages = report.stage_seconds
        speed = f"、{report.embeddings_per_second:.0f} 件/秒" if report.embeddings_per_second else ""
        console.print(
            f"  内訳: 読み込み・分割 {stages.get('read', 0):.1f} 秒、埋め込み {stages.get('embed', 0):.1f} 秒"
            f"（チャンクと文 {report.texts_embedded} 件{speed}）、書き込み {stages.get('write', 0):.1f} 秒"
        )
    else:
        console.print(f"索引は最新です（変更なし、{report.seconds:.2f} 秒）。")
    if prepared:
        console.print(f"質問例 {prepared} 件のベクトルを用意しました（次からの起動で使います）。")
    if paths:
        _check_requested(settings, requested, report)


def _requested_files(paths: list[Path]) -> list[Path]:
    """The files that `dxnavi ingest PATH…` asks for; a path that is no file or folder is refused."""
    from ingest.pipeline import discover

    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise DxnaviError(f"ファイルが見つかりません: {path}")
        if not (path.is_file() or path.is_dir()):
            raise DxnaviError(
                f"{path} は通常のファイルでもフォルダでもありません（FIFO・デバイスなど）。取り込めません。"
            )
        found = [f for f in discover(path, []) if f.is_file()]
        if not found:
            raise DxnaviError(f"{path} に取り込めるファイルがありません（空のフォルダです）。")
        files += found
    return files


def _check_requested(settings: Settings, requested: list[Path], report: IngestReport) -> None:
    """Exit non-zero, naming each file and why, when a file asked for is not in the index."""
    from ingest.index import read_current_meta

    meta = read_current_meta(settings.index_dir)
    indexed = {f.path for f in meta.files} if meta else set()
    reasons = {str(f.path): f.reason for f in report.files}
    missing = [p for p in requested if str(p) not in indexed]
    for path in missing:
        why = (
            reasons.get(str(path))
            or "対応していない形式か、読めない・重複したファイルです（前回の取り込み結果）"
        )
        console.print(f"[yellow]取り込めませんでした:[/] {path}: {why}")
    if missing and len(missing) == len(requested):
        raise typer.Exit(1)


@app.command()
@handle_errors
def search(
    query: Annotated[str, typer.Argument(help="検索したい内容（日本語）")],
    k: Annotated[int, typer.Option("-k", help="表示する件数", min=1, max=50)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="JSON で出力")] = False,
    doc: Annotated[list[str] | None, typer.Option("--doc", help="文書IDで絞り込む（複数可）")] = None,
    config: ConfigOption = None,
) -> None:
    """ハイブリッド検索（BM25 + ベクトル）で該当箇所を探す。"""
    from bot.retrieve import SearchIndex, check_query
    from bot.schemas import old_version_note
    from ingest.embed import embedder_from_settings

    query = check_query(query)
    settings = settings_for(config)
    index = SearchIndex(settings, embedder_from_settings(settings))
    hits = index.search(query, k=k, doc_ids=doc)
    if as_json:
        results = [
            {
                "chunk_id": h.chunk.chunk_id,
                "doc_id": h.chunk.doc_id,
                "title": h.chunk.title,
                "page": h.chunk.page,
                "heading": h.chunk.heading,
                "text": h.chunk.text,
                "score": round(h.score, 6),
                "clause": h.chunk.clause,
                "superseded_by": index.newer.get(h.chunk.doc_id),
            }
            for h in hits
        ]
        sys.stdout.write(json.dumps({"query": query, "results": results}, ensure_ascii=False) + "\n")
        return
    if not hits:
        console.print("該当する箇所は見つかりませんでした。")
    for rank, h in enumerate(hits, start=1):
        c = h.chunk
        console.rule(f"{rank}. {c.title} ／ p.{c.page} ／ {c.heading or ''}  (score {h.score:.4f})")
        if c.doc_id in index.newer:
            console.print(f"（{old_version_note(c.title, index.newer[c.doc_id])}）")
        console.print(c.text, markup=False, highlight=False)


def _register_optional_commands() -> None:
    """Commands implemented in other packages register themselves here (imported lazily)."""
    import importlib

    for module in ("dxnavi.ask", "dxnavi.launch", "dxnavi.evaluate", "dxnavi.ops"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(app)


_register_optional_commands()
