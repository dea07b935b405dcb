"""相談メモ: a one-page hand-off memo for the support agency an owner chose, made from the conversation.

It holds only what the conversation and the guides said: the owner's own words, the stage the advisor
estimated (with the guide's description), the agency, what to tell it and bring (the agency's advice card),
the first steps the answers gave, what the guides leave out, and every cited passage (document, page,
quote). The answers are the advisor's own, asked again turn by turn; their [n] markers are renumbered into
one list of sources. `memo_markdown` writes it as Markdown; `bot.memo_pdf` as a PDF.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from bot.catalog import agencies
from bot.schemas import ChatResponse, Citation, Message
from bot.sources import answer_body, where
from ground.errors import QueryError

if TYPE_CHECKING:
    from bot.advisor import Advisor

MAX_TURNS = 6  # the owner's last turns that the memo is made from
MAX_STEPS = 4
MAX_TELL = 5
_MARKER = re.compile(r"\[(\d+)\]")
_STEP_HEADINGS = ("### 最初の一歩", "### 次の一歩")
_GAP = "※ 資料に書かれていないこと: "


class Company(BaseModel):
    """What the owner chose to add about the company (all optional, shown as given)."""

    name: str | None = Field(default=None, max_length=100, description="会社名")
    industry: str | None = Field(default=None, max_length=100, description="業種")
    employees: int | None = Field(default=None, ge=1, le=1_000_000, description="従業員数")


class Memo(BaseModel):
    made_on: date
    company: Company
    agency_id: str
    agency_name: str
    agency_reason: str  # cited ([n])
    tell: list[str]  # what to tell the agency and bring, cited
    owner_words: list[str]  # the owner's messages, verbatim
    stage: str | None  # 段階N「label」
    stage_reason: str | None  # cited
    steps: list[str]  # first steps, cited
    gaps: list[str]  # what the guides do not say (to ask the agency)
    sources: list[Citation]


class _Sources:
    """One numbered list of sources for the whole memo; each answer's [n] is renumbered into it."""

    def __init__(self) -> None:
        self.items: list[Citation] = []
        self._index: dict[tuple[str, str], int] = {}

    def renumber(self, text: str, response: ChatResponse) -> str:
        local = {c.n: c for c in response.citations}

        def one(match: re.Match[str]) -> str:
            citation = local.get(int(match.group(1)))
            if citation is None:
                return ""
            key = (citation.chunk_id, citation.quote)
            if key not in self._index:
                self._index[key] = len(self.items) + 1
                self.items.append(citation.model_copy(update={"n": self._index[key]}))
            return f"[{self._index[key]}]"

        return _MARKER.sub(one, text)


def _section_lines(answer: str, headings: tuple[str, ...]) -> list[str]:
    """The list items under any of `headings` in an answer's markdown."""
    out: list[str] = []
    inside = False
    for line in answer_body(answer).splitlines():
        if line.startswith("###"):
            inside = line.strip() in headings or any(line.startswith(h) for h in headings)
        elif inside and line.startswith("- "):
            out.append(line[2:].strip())
    return out


def _gaps(answer: str) -> list[str]:
    return [line[len(_GAP) :].strip() for line in answer_body(answer).splitlines() if line.startswith(_GAP)]


def _dedupe(items: list[tuple[str, ChatResponse]], limit: int) -> list[tuple[str, ChatResponse]]:
    """The first `limit` distinct items (compared without their markers), each with its answer."""
    seen: set[str] = set()
    out = []
    for text, response in items:
        key = _MARKER.sub("", text)
        if key not in seen:
            seen.add(key)
            out.append((text, response))
    return out[:limit]


def make_memo(
    advisor: Advisor, messages: list[Message], agency_id: str | None = None, company: Company | None = None
) -> Memo:
    """The memo for this conversation (and agency: the one the answers recommended when not given)."""
    while messages and messages[-1].role != "user":  # the conversation may end with an answer
        messages = messages[:-1]
    messages = advisor.check_messages(messages[-advisor.settings.max_messages + 2 :])
    catalog = {a.id: a for a in agencies()}
    if agency_id is not None and agency_id not in catalog:
        raise QueryError(f"相談先のIDが見つかりません: {agency_id}。使えるID: {', '.join(catalog)}")
    user_turns = [i for i, m in enumerate(messages) if m.role == "user"][-MAX_TURNS:]
    responses = [advisor.ask(messages[: i + 1]) for i in user_turns]
    answered = [(r, i) for r, i in zip(responses, user_turns, strict=True) if not r.refused]
    if not answered:
        raise QueryError(
            "この会話には、資料にもとづく回答がまだありません。DXについて相談してから、メモを作ってください。"
        )
    # The follow-up questions the memo asks itself come after the last answer, as an owner's would.
    so_far = [*messages, Message(role="assistant", content=answer_body(answered[-1][0].answer))]
    recommended = [a.id for r, _ in reversed(answered) for a in r.agencies]
    chosen = agency_id or (recommended[0] if recommended else None)
    if chosen is None:  # no answer named one: ask, as the owner would, whom to consult
        chosen = next(
            (a.id for a in advisor.ask([*so_far, Message(content="どこに相談すればいい？")]).agencies), None
        )
    if chosen is None:
        raise QueryError("相談先が決まりませんでした。相談先を選んでから、メモを作ってください。")
    agency = catalog[chosen]
    # What to tell the agency and bring: its advice card, asked for as an owner would.
    bring = advisor.ask([*so_far, Message(content=f"{agency.name}に相談するとき、何を持っていけばいい？")])

    sources = _Sources()
    stage_response = next((r for r, _ in reversed(answered) if r.stage is not None), None)
    stage_reason = (
        sources.renumber(stage_response.stage.reason, stage_response)
        if stage_response is not None and stage_response.stage is not None
        else None
    )
    own = next(
        ((a, r) for r in [bring, *(r for r, _ in reversed(answered))] for a in r.agencies if a.id == chosen),
        None,
    )
    reason = sources.renumber(own[0].reason, own[1]) if own else ""
    # Only what the memo keeps is numbered, so that every source is cited by the memo's text.
    tell_items = [
        (t, r)
        for r in (bring, *(r for r, _ in answered))
        for a in r.agencies
        if a.id == chosen
        for t in a.what_to_ask
    ]
    tell = [sources.renumber(t, r) for t, r in _dedupe(tell_items, MAX_TELL)]
    step_items = [(s, r) for r, _ in answered for s in _section_lines(r.answer, _STEP_HEADINGS)]
    steps = [sources.renumber(s, r) for s, r in _dedupe(step_items, MAX_STEPS)]
    gaps = [g for g, _ in _dedupe([(g, r) for r, _ in answered for g in _gaps(r.answer)], MAX_STEPS)]
    stage = stage_response.stage if stage_response is not None else None
    return Memo(
        made_on=date.today(),
        company=company or Company(),
        agency_id=chosen,
        agency_name=agency.name,
        agency_reason=reason,
        tell=tell,
        owner_words=[messages[i].content for _, i in answered],
        stage=f"段階{stage.level}「{stage.label}」" if stage is not None else None,
        stage_reason=stage_reason,
        steps=steps,
        gaps=gaps,
        sources=sources.items,
    )


def memo_markdown(memo: Memo) -> str:
    """The memo as Markdown (the same sections and sources as the PDF)."""
    lines = [f"# DX相談メモ（{memo.agency_name}あて）", "", f"作成日: {memo.made_on:%Y年%m月%d日}（DXナビ）"]
    company = company_lines(memo.company)
    if company:
        lines += ["", *(f"- {c}" for c in company)]
    lines += ["", "## ご相談の内容（ご本人のことば）", "", *(f"> {w}" for w in memo.owner_words)]
    if memo.stage:
        lines += ["", f"## 現在地（推定）: {memo.stage}", "", memo.stage_reason or ""]
    lines += ["", f"## 相談先: {memo.agency_name}", "", memo.agency_reason]
    if memo.tell:
        lines += ["", "## 相談するときに伝えること・持っていくもの", "", *(f"- {t}" for t in memo.tell)]
    if memo.steps:
        lines += ["", "## 資料が勧める最初の一歩", "", *(f"- {s}" for s in memo.steps)]
    if memo.gaps:
        lines += [
            "",
            "## 資料に書かれていないこと（相談先で確かめること）",
            "",
            *(f"- {g}" for g in memo.gaps),
        ]
    lines += ["", "## 出典", "", *(f"- {d}" for d in documents(memo)), ""]
    lines += [f"- {source_line(c)}" for c in memo.sources]
    lines += ["", NOTE]
    return "\n".join(lines) + "\n"


NOTE = (
    "このメモは、DXナビが経済産業省の資料とこの相談の内容だけから作りました。[n] は出典の番号で、"
    "引用は資料の原文のままです。資料に書かれていないことは含みません。"
)


def company_lines(company: Company) -> list[str]:
    return [
        line
        for line in (
            f"会社名: {company.name}" if company.name else "",
            f"業種: {company.industry}" if company.industry else "",
            f"従業員数: {company.employees}人" if company.employees else "",
        )
        if line
    ]


def source_line(c: Citation) -> str:
    """「[n] p.8「見出し」：「引用」」 (the document's title and URL are listed once, `documents`)."""
    location = where(c)
    return f"[{c.n}] " + (f"{location}" if location else c.title) + f"：「{c.quote}」"


def documents(memo: Memo) -> list[str]:
    """Each cited document once: 「[1]〜[24] 経済産業省 … https://…」."""
    out = []
    for title in dict.fromkeys(c.title for c in memo.sources):
        cited = [c for c in memo.sources if c.title == title]
        numbers = f"[{cited[0].n}]" if len(cited) == 1 else f"[{cited[0].n}]〜[{cited[-1].n}]"
        url = next((c.url for c in cited if c.url), None)
        out.append(f"{numbers} {title}" + (f" {url}" if url else ""))
    return out
