"""An MCP server (the official `mcp` SDK) that gives AI assistants the guides: search, clause lookup, the
advisor (answers with citations) and the agency catalog. `dxnavi mcp` runs it over stdio or streamable HTTP.

The advisor loads on the first tool call, so an assistant can list the tools while the index is missing;
a call then gets the same Japanese message as the CLI and the API."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.advisor import Advisor
from bot.api.deps import KEY_MISSING, KEY_WRONG, bearer_key
from bot.api.schemas import SearchResponse
from bot.catalog import agencies, clauses
from bot.counsel import clause_card_id
from bot.retrieve import check_query
from bot.schemas import Citation, Message
from bot.sources import answer_with_sources
from ground.errors import DxnaviError

if TYPE_CHECKING:
    from ground.config import Settings

INSTRUCTIONS = (
    "経済産業省のDX関連資料（デジタルガバナンス・コード3.0、中堅・中小企業等向けDX推進の手引き、DX支援ガイダンス、"
    "DX推進指標・DX認定・DXセレクションの説明資料）を検索し、出典つきで答えるツールです。"
    "答えには資料の原文の引用（文書名・ページ・見出し）がついています。引用にない内容を付け足さないでください。"
)
P = ParamSpec("P")
T = TypeVar("T")
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


class AgencyInfo(BaseModel):
    id: str
    name: str
    helps_with: str = Field(description="相談できること")
    when_to_go: str = Field(description="こんなときに")
    what_to_ask: list[str] = Field(description="相談するときに伝えること・持っていくもの")
    regions: list[str] = Field(default_factory=list, description="地域（地域DX推進ラボなど）")


class Answer(BaseModel):
    answer: str = Field(description="日本語の回答（Markdown）。[n] は出典の番号")
    sources: list[Citation] = Field(description="出典（原文の引用・文書名・ページ）")
    stage: str | None = Field(None, description="推定したデジタル化の段階（相談内容から分かる場合）")
    agencies: list[str] = Field(default_factory=list, description="おすすめの相談先")
    covered: bool = Field(description="資料に答えがあったか（false なら資料の範囲外）")


class Advisors:
    """The advisor, loaded once on first use (the index may be built after the server starts)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._advisor: Advisor | None = None
        self._lock = threading.Lock()

    def get(self) -> Advisor:
        with self._lock:
            if self._advisor is None:
                self._advisor = _tool_errors(Advisor.from_settings, self.settings)
            return self._advisor


def _tool_errors(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run func; a DxnaviError becomes a ToolError carrying its Japanese message (no local paths)."""
    try:
        return func(*args, **kwargs)
    except DxnaviError as exc:
        raise ToolError(exc.public_message) from None


def _answer(advisor: Advisor, messages: list[Message]) -> Answer:
    response = _tool_errors(advisor.ask, _tool_errors(advisor.check_messages, messages))
    return Answer(
        answer=answer_with_sources(response),
        sources=response.citations,
        stage=f"段階{response.stage.level}「{response.stage.label}」" if response.stage else None,
        agencies=[a.name for a in response.agencies],
        covered=not response.refused,
    )


def create_server(settings: Settings) -> MCPServer:
    """The MCP server with dxnavi's four read-only tools."""
    from ground import __version__

    server = MCPServer("dxnavi", title="DXナビ", instructions=INSTRUCTIONS, version=__version__)
    advisors = Advisors(settings)
    max_chars = settings.max_message_chars

    @server.tool(title="資料を検索", annotations=READ_ONLY)
    def search_guides(
        query: Annotated[str, Field(description="探したい内容（日本語）。例: 「DX認定の申請に必要なもの」")],
        k: Annotated[int, Field(ge=1, le=20, description="返す箇所の数")] = 5,
    ) -> SearchResponse:
        """DX関連資料から、問いに関係する箇所（原文・文書名・ページ・見出し）を探します。"""
        advisor = advisors.get()
        query, expansions, hits = _tool_errors(advisor.search_guides, query, k)
        return SearchResponse.of(query, expansions, hits, advisor.index.urls, advisor.index.newer)

    @server.tool(title="条文を引く", annotations=READ_ONLY)
    def lookup_clause(
        clause: Annotated[
            str, Field(description="デジタルガバナンス・コードの柱や視点。例: 「柱3-3」「柱1」「視点②」")
        ],
    ) -> Answer:
        """デジタルガバナンス・コード3.0 の柱（柱1〜柱5、柱3-1〜3-3）や視点（①〜③）の原文を、出典つきで返します。"""
        clause = _tool_errors(check_query, clause, max_chars)
        known = {f"dgc-pillar-{k}": f"柱{k}" for k in clauses().pillars} | {
            f"dgc-viewpoint-{k}": f"視点{'①②③'[int(k) - 1]}" for k in clauses().viewpoints
        }
        if clause_card_id(clause) not in known:
            raise ToolError(
                f"条文が分かりません: {clause}。次のどれかを指定してください: {'、'.join(known.values())}"
            )
        return _answer(advisors.get(), [Message(role="user", content=f"{clause}を原文で教えて")])

    @server.tool(title="DXナビに相談", annotations=READ_ONLY)
    def ask_advisor(
        question: Annotated[str, Field(description="中小企業のDXについての質問（日本語）")],
        history: Annotated[
            list[Message] | None,
            Field(description="それまでの会話（古い順、role は user / assistant）。追いの質問のときに渡す"),
        ] = None,
    ) -> Answer:
        """中小企業のDXの相談に、資料の原文を引用して答えます（現在の段階・次の一歩・相談先つき）。
        資料に書かれていないことには、書かれていないと答えます。"""
        messages = [*(history or []), Message(role="user", content=question)]
        return _answer(advisors.get(), messages)

    @server.tool(title="相談先の一覧", annotations=READ_ONLY)
    def list_agencies() -> list[AgencyInfo]:
        """DXの相談先（金融機関、商工会議所・商工会、ITコーディネータ、地域DX推進ラボ など）と、相談できること・持っていくもの。"""
        return [AgencyInfo.model_validate(a, from_attributes=True) for a in agencies()]

    return server


class RequireKey:
    """ASGI wrapper: every HTTP request needs `Authorization: Bearer <key>` when API keys are set."""

    def __init__(self, app: ASGIApp, keys: list[str]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.keys:
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            missing, matched = bearer_key(header, self.keys)
            if missing or matched is None:
                message = KEY_MISSING if missing else KEY_WRONG
                response = JSONResponse({"error": message}, 401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def http_app(settings: Settings, host: str) -> ASGIApp:
    """The streamable HTTP app at /mcp, behind the API keys when any are set."""
    app = create_server(settings).streamable_http_app(host=host)
    return RequireKey(app, settings.bearer_keys)
