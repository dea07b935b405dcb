"""Start the app: `dxnavi serve` (API), `dxnavi ui` (Streamlit), `dxnavi run` (ingest if needed, then both),
and `dxnavi bench-api` (API latency benchmark).

No `from __future__ import annotations` here: typer reads the commands' annotations at run time, and
they name `ConfigOption`, which is imported inside `register`.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from dxnavi.errors import ConfigError, DxnaviError

if TYPE_CHECKING:
    from dxnavi.config import Settings

UI_APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


class StartupError(DxnaviError):
    """The API or UI process did not come up."""


# ---- building blocks (plain functions, used by the commands and the tests) -------------------
def local_url(host: str, port: int) -> str:
    """URL for reaching a server bound to `host` from this machine (0.0.0.0 / :: → 127.0.0.1)."""
    reach = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{reach}:{port}"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1" if host in ("0.0.0.0", "") else host, port))
        except OSError:
            return True
    return False


def check_port_free(host: str, port: int, option: str) -> None:
    if port_in_use(host, port):
        raise StartupError(
            f"ポート {port} はすでに使われています。{option} で別のポートを指定するか、"
            "そのポートを使っているプロセスを止めてください。"
        )


def child_env(settings: "Settings", config: Path | None) -> dict[str, str]:
    """Environment for the API/UI child processes: the parent's plus what they must agree on."""
    env = dict(os.environ)
    env["DXNAVI_API_URL"] = settings.api_url
    env["DXNAVI_DATA_DIR"] = str(settings.data_dir)
    env["DXNAVI_CORPUS_DIR"] = str(settings.corpus_dir)
    if config is not None:
        env["DXNAVI_CONFIG"] = str(config.resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def api_command(host: str, port: int, workers: int = 1, quiet: bool = False) -> list[str]:
    cmd = [
        sys.executable, "-m", "uvicorn", "bot.api:create_app_from_env", "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    if quiet:
        cmd += ["--log-level", "warning", "--no-access-log"]
    return cmd


def ui_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(UI_APP),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
        "--theme.base", "light", "--theme.primaryColor", "#1f5fae",
    ]  # fmt: skip


def wait_until_ready(
    url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = READY_TIMEOUT_S
) -> None:
    """Poll `url` until it answers 200; fail early if the process exits."""
    import httpx

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise StartupError(
                f"{what}が起動できませんでした（終了コード {code}）。上のログを確認してください。"
            )
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return
            last = response.json().get("detail", "") if response.content else ""
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise StartupError(f"{what}が {timeout:.0f} 秒以内に準備できませんでした（{url}）。{last}")


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM each child's process group, wait, then SIGKILL whatever is still running."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(proc.pid, sig)


class Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM so that children are stopped in `finally`."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def supervise(
    procs: Sequence[subprocess.Popen[bytes]], names: Sequence[str], echo: Callable[[str], None]
) -> int:
    """Wait until Ctrl-C / SIGTERM (exit 0) or until a child exits on its own (its exit code); stop all."""
    try:
        with stop_on_signals():
            while True:
                for proc, name in zip(procs, names, strict=True):
                    code = proc.poll()
                    if code is not None:
                        echo(f"{name}が終了しました（終了コード {code}）。ほかのプロセスも止めます。")
                        return code or 1
                time.sleep(0.3)
    except Stop:
        echo("停止しています…")
        return 0
    finally:
        stop_processes(procs)


# ---- commands --------------------------------------------------------------------------------
def register(app: typer.Typer) -> None:
    from dxnavi.cli import ConfigOption, console, handle_errors, settings_for

    HostOption = Annotated[str | None, typer.Option("--host", help="待ち受けるアドレス（既定: 127.0.0.1）")]

    @app.command()
    @handle_errors
    def serve(
        host: HostOption = None,
        port: Annotated[int | None, typer.Option("--port", help="API のポート（既定: 8000）")] = None,
        workers: Annotated[int, typer.Option("--workers", min=1, help="ワーカープロセス数")] = 1,
        config: ConfigOption = None,
    ) -> None:
        """API サーバー（FastAPI）を起動する。"""
        from ingest import index as idx

        settings = settings_for(config, api_host=host, api_port=port)
        if workers > 1 and settings.store != "server":
            raise ConfigError(
                "--workers を2以上にできるのは、ベクトルストアが Chroma サーバー"
                '（store = "server"）のときだけです。'
                '埋め込み Chroma（store = "embedded"）は1つのプロセスしか開けません。'
                "DXNAVI_STORE=server と Chroma サーバーを設定するか、--workers 1 で起動してください。"
            )
        check_port_free(settings.api_host, settings.api_port, "--port")
        if idx.read_current_meta(settings.index_dir) is None:
            console.print(
                "[yellow]索引がまだありません。[/] API は起動しますが、`dxnavi ingest` を実行するまで "
                "/readyz と相談は 503 を返します。"
            )
        url = local_url(settings.api_host, settings.api_port)
        console.print(f"DXナビ API: {url}  （ドキュメント: {url}/docs）  止めるには Ctrl-C", soft_wrap=True)
        import uvicorn

        if workers == 1:
            from bot.api import create_app

            uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)
            return
        if config is not None:
            os.environ["DXNAVI_CONFIG"] = str(config.resolve())  # read by every worker's settings
        uvicorn.run(
            "bot.api:create_app_from_env",
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=workers,
        )

    @app.command()
    @handle_errors
    def ui(
        host: HostOption = None,
        port: Annotated[int | None, typer.Option("--port", help="画面のポート（既定: 8501）")] = None,
        api_url: Annotated[
            str | None, typer.Option("--api-url", help="API の URL（既定: http://127.0.0.1:8000）")
        ] = None,
        config: ConfigOption = None,
    ) -> None:
        """画面（Streamlit）を起動する。API は別に `dxnavi serve` で起動しておく。"""
        settings = settings_for(config, ui_port=port, api_url=api_url)
        bind = host or settings.api_host
        check_port_free(bind, settings.ui_port, "--port")
        proc = subprocess.Popen(
            ui_command(bind, settings.ui_port), env=child_env(settings, config), start_new_session=True
        )
        ui_url = local_url(bind, settings.ui_port)
        console.print(
            f"DXナビ 画面: {ui_url}  （API: {settings.api_url}）  止めるには Ctrl-C", soft_wrap=True
        )
        raise typer.Exit(supervise([proc], ["画面（Streamlit）"], console.print))

    @app.command()
    @handle_errors
    def run(
        host: HostOption = None,
        api_port: Annotated[int | None, typer.Option("--api-port", help="API のポート（既定: 8000）")] = None,
        ui_port: Annotated[int | None, typer.Option("--ui-port", help="画面のポート（既定: 8501）")] = None,
        config: ConfigOption = None,
    ) -> None:
        """索引が古ければ作り直し、API と画面を起動して URL を表示する。Ctrl-C で両方止まる。"""
        from ingest.embed import embedder_from_settings
        from ingest.pipeline import is_up_to_date, run_ingest

        settings = settings_for(config, api_host=host, api_port=api_port, ui_port=ui_port)
        api_url = local_url(settings.api_host, settings.api_port)
        settings = settings.model_copy(update={"api_url": api_url})
        check_port_free(settings.api_host, settings.api_port, "--api-port")
        check_port_free(settings.api_host, settings.ui_port, "--ui-port")
        if not is_up_to_date(settings):
            console.print("索引を作成・更新しています（初回は1分ほどかかります）…")
            report = run_ingest(settings, lambda: embedder_from_settings(settings), [], False, True)
            console.print(f"索引の準備ができました（チャンク {report.chunks}、{report.seconds:.1f} 秒）。")
        else:
            console.print("索引は最新です。")
        env = child_env(settings, config)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            with stop_on_signals():
                console.print("API を起動しています…")
                procs.append(
                    subprocess.Popen(
                        api_command(settings.api_host, settings.api_port, quiet=True),
                        env=env,
                        start_new_session=True,
                    )
                )
                wait_until_ready(f"{api_url}/readyz", procs[0], "API サーバー")
                console.print("画面を起動しています…")
                procs.append(
                    subprocess.Popen(
                        ui_command(settings.api_host, settings.ui_port), env=env, start_new_session=True
                    )
                )
                ui_url = local_url(settings.api_host, settings.ui_port)
                wait_until_ready(f"{ui_url}/_stcore/health", procs[1], "画面（Streamlit）")
        except (Stop, DxnaviError):
            stop_processes(procs)
            raise
        console.print(
            "\n[bold green]DXナビを起動しました。[/]\n"
            f"  画面（ブラウザで開く）: {ui_url}\n"
            f"  API:                    {api_url}  （ドキュメント: {api_url}/docs）\n"
            "止めるには Ctrl-C を押してください。",
            soft_wrap=True,
        )
        code = supervise(procs, ["API サーバー", "画面（Streamlit）"], console.print)
        console.print("API と画面を停止しました。")
        raise typer.Exit(code)

    @app.command("bench-api")
    @handle_errors
    def bench_api(
        requests: Annotated[
            int, typer.Option("--requests", "-n", min=1, help="各同時接続数で送るリクエスト数")
        ] = 64,
        concurrency: Annotated[
            list[int] | None, typer.Option("--concurrency", "-c", help="同時接続数（複数可）")
        ] = None,
        ui: Annotated[
            bool, typer.Option("--ui/--no-ui", help="ブラウザで画面の最初の文字までの時間も測る")
        ] = False,
        config: ConfigOption = None,
    ) -> None:
        """API の応答時間（p50/p95）と最初のトークンまでの時間を測る（抜粋モード、ループバック）。"""
        from bot.bench_api import print_report, run_benchmark

        settings = settings_for(config)
        report = run_benchmark(
            settings, concurrency or [1, 8, 32], requests, measure_ui=ui, echo=console.print
        )
        print_report(report, console)
