"""Start the app: `dxnavi serve` (API), `dxnavi ui` (Streamlit), `dxnavi run` (ingest if needed, then both).
The processes themselves are started and stopped by `ground.processes`.

No `from __future__ import annotations` here: typer reads the commands' annotations at run time, and
they name `ConfigOption`, which is imported inside `register`.
"""

import os
import subprocess
from typing import Annotated

import typer

from ground.errors import DxnaviError
from ground.processes import (
    API_FACTORY,
    Stop,
    api_command,
    check_port_free,
    child_env,
    local_url,
    stop_on_signals,
    stop_processes,
    supervise,
    ui_command,
    wait_until_ready,
)


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
        check_port_free(settings.api_host, settings.api_port, "--port")
        if idx.read_current_meta(settings.index_dir) is None:
            console.print(
                "[yellow]索引がまだありません。[/] API は起動しますが、`dxnavi ingest` を実行するまで "
                "/readyz と相談は 503 を返します。"
            )
        url = local_url(settings.api_host, settings.api_port)
        console.print(f"DXナビ API: {url}  （ドキュメント: {url}/docs）  止めるには Ctrl-C", soft_wrap=True)
        import uvicorn

        # Slow clients cannot hold the server: idle keep-alives close, connections beyond the cap get 503.
        keep_alive, max_connections = int(settings.api_keep_alive_s), settings.api_max_connections
        if workers == 1:
            from bot.api import create_app

            uvicorn.run(
                create_app(settings),
                host=settings.api_host,
                port=settings.api_port,
                timeout_keep_alive=keep_alive,
                limit_concurrency=max_connections,
            )
            return
        if config is not None:
            os.environ["DXNAVI_CONFIG"] = str(config.resolve())  # read by every worker's settings
        uvicorn.run(
            API_FACTORY,
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=workers,
            timeout_keep_alive=keep_alive,
            limit_concurrency=max_connections,
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
