"""`dxnavi ask`: the advisor on the command line (one question, JSON, or a JSONL batch)."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from dxnavi.cli import ConfigOption, console, handle_errors, settings_for

    @app.command()
    @handle_errors
    def ask(
        question: Annotated[str | None, typer.Argument(help="質問（日本語）")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="応答を JSON で出力")] = False,
        batch: Annotated[Path | None, typer.Option("--batch", help="JSONL（各行に id と question）")] = None,
        config: ConfigOption = None,
    ) -> None:
        """DXの相談に、資料の該当箇所を引用して答える。"""
        from bot.advisor import Advisor
        from bot.schemas import Message
        from ground.errors import DxnaviError, QueryError

        if (question is None) == (batch is None):
            raise QueryError("質問を1つ指定するか、--batch で JSONL ファイルを指定してください。")
        settings = settings_for(config)
        advisor = Advisor.from_settings(settings)
        if batch is not None:
            if not batch.is_file():
                raise DxnaviError(f"ファイルが見つかりません: {batch}")
            for number, line in enumerate(batch.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    item_id, text = item["id"], item["question"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise QueryError(
                        f"{batch} の {number} 行目が読めません（id と question が必要です）: {exc}"
                    ) from exc
                try:
                    payload = advisor.ask([Message(role="user", content=text)]).model_dump(mode="json")
                except QueryError as exc:
                    payload = {"error": exc.message}
                sys.stdout.write(json.dumps({"id": item_id, **payload}, ensure_ascii=False) + "\n")
            return
        assert question is not None
        response = advisor.ask([Message(role="user", content=question)])
        if as_json:
            sys.stdout.write(response.model_dump_json() + "\n")
            return
        from rich.markdown import Markdown
        from rich.panel import Panel

        console.print(Markdown(response.answer))
        for a in response.agencies[:1]:
            console.print(
                Panel(
                    f"{a.reason}\n相談するときに伝えること: " + "／".join(a.what_to_ask),
                    title=f"相談先: {a.name}",
                )
            )
        for c in response.citations:
            console.print(
                Panel(c.quote, title=f"[{c.n}] {c.title} p.{c.page} {c.heading or ''}", expand=False)
            )
        if response.notice:
            console.print(f"[yellow]{response.notice}[/]")

    @app.command()
    @handle_errors
    def mcp(
        http: Annotated[
            bool, typer.Option("--http", help="stdio ではなく streamable HTTP（/mcp）で待ち受ける")
        ] = False,
        host: Annotated[str, typer.Option("--host", help="--http のときの待ち受けアドレス")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="--http のときのポート", min=1, max=65535)] = 8765,
        config: ConfigOption = None,
    ) -> None:
        """MCP サーバー（AIアシスタントから資料検索・条文・相談・相談先一覧を使う）。既定は stdio。"""
        from bot.mcp_server import create_server, http_app

        settings = settings_for(config)
        if not http:
            create_server(settings).run("stdio")
            return
        import uvicorn

        from ground.processes import check_port_free

        check_port_free(host, port, "--port")
        console.print(f"MCP サーバー: http://{host}:{port}/mcp（Ctrl+C で終了）", highlight=False)
        uvicorn.run(http_app(settings, host), host=host, port=port, log_level="warning")
