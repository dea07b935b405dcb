"""相談チャット: streamed answers with 出典/相談先/DX段階 cards, example questions, a self-check, feedback."""

from __future__ import annotations

from typing import Any

import streamlit as st

from bot.schemas import ChatResponse, Message
from bot.sources import BodyStream, answer_body
from ui import render
from ui.client import ApiClient, ApiError, ApiUnavailable

EXAMPLES = ["何から始めればいい？", "DX認定のメリットは？", "どこに相談すれば？"]
HISTORY_MESSAGES = 6  # earlier turns sent with a question (the advisor looks at the last few)
HISTORY_CHARS = 1000  # earlier answers are shortened: the API takes at most 64 KiB per request
MEMO_MESSAGES = 12  # the turns a 相談メモ is made from
MAX_CHARS = 2000  # the API's max_message_chars


def _init_state() -> None:
    st.session_state.setdefault("turns", [])
    st.session_state.setdefault("pending", None)
    st.session_state.setdefault("selfcheck_level", None)


def _ask(question: str) -> None:
    st.session_state.pending = question


def _reset() -> None:
    st.session_state.turns = []
    st.session_state.pending = None
    st.session_state.selfcheck_level = None
    for key in [k for k in st.session_state if str(k).startswith(("sc_", "comment_", "memo_"))]:
        del st.session_state[key]


def _history() -> list[Message]:
    out = []
    for turn in st.session_state.turns[-HISTORY_MESSAGES:]:
        if turn.get("error"):
            continue
        content = turn["content"] if turn["role"] == "user" else turn["content"][:HISTORY_CHARS]
        out.append(Message(role=turn["role"], content=content))
    return out


# ---- feedback --------------------------------------------------------------------------------
def _send_feedback(api: ApiClient, index: int, rating: str, with_comment: bool = False) -> None:
    turn = st.session_state.turns[index]
    comment = st.session_state.get(f"comment_{index}") if with_comment else None
    try:
        api.feedback(turn["response"].message_id, rating, comment)
    except (ApiError, ApiUnavailable) as exc:
        turn["feedback_error"] = getattr(exc, "detail", None) or str(exc)
        return
    turn["feedback"] = rating
    turn["feedback_error"] = None
    if with_comment:
        turn["commented"] = True


def _feedback_row(api: ApiClient, index: int, turn: dict[str, Any]) -> None:
    rating = turn.get("feedback")
    up, down, note = st.columns([1, 1, 4])
    up.button(
        "👍 役に立った",
        key=f"up_{index}",
        type="primary" if rating == "up" else "secondary",
        on_click=_send_feedback,
        args=(api, index, "up"),
    )
    down.button(
        "👎 いまひとつ",
        key=f"down_{index}",
        type="primary" if rating == "down" else "secondary",
        on_click=_send_feedback,
        args=(api, index, "down"),
    )
    if turn.get("feedback_error"):
        note.error(f"フィードバックを送れませんでした: {turn['feedback_error']}")
    elif rating:
        note.success("フィードバックを受け付けました。ありがとうございます。")
        if turn.get("commented"):
            st.caption("コメントも送信しました。")
        else:
            with st.form(key=f"comment_form_{index}", border=False):
                st.text_input(
                    "コメント（任意）",
                    key=f"comment_{index}",
                    placeholder="例: 相談先の連絡方法も知りたかった",
                )
                st.form_submit_button(
                    "コメントを送る", on_click=_send_feedback, args=(api, index, rating, True)
                )


# ---- 相談メモ -----------------------------------------------------------------------------------
def _conversation(upto: int) -> list[Message]:
    """The conversation up to and including turn `upto` (an answer), as the API takes it."""
    out = []
    for turn in st.session_state.turns[: upto + 1][-MEMO_MESSAGES:]:
        if not turn.get("error"):
            out.append(Message(role=turn["role"], content=turn["content"]))
    return out


def _make_memo(api: ApiClient, index: int, agency_ids: list[str]) -> None:
    turn = st.session_state.turns[index]
    choice = st.session_state.get(f"memo_agency_{index}")
    fields = {
        "agency_id": agency_ids[choice] if isinstance(choice, int) and choice < len(agency_ids) else None,
        "company_name": st.session_state.get(f"memo_company_{index}"),
        "industry": st.session_state.get(f"memo_industry_{index}"),
        "employees": st.session_state.get(f"memo_employees_{index}") or None,
    }
    messages = _conversation(index)
    try:
        turn["memo_pdf"] = api.memo(messages, "pdf", **fields)
        turn["memo_md"] = api.memo(messages, "markdown", **fields)
        turn["memo_error"] = None
    except (ApiError, ApiUnavailable) as exc:
        turn["memo_error"] = getattr(exc, "detail", None) or str(exc)


def _memo_panel(api: ApiClient, index: int, turn: dict[str, Any]) -> None:
    """「相談メモを作る」: a one-page memo to take to the agency (PDF and Markdown downloads)."""
    response: ChatResponse = turn["response"]
    if response.refused:
        return
    catalog = render.agencies(api.base_url)
    recommended = [a.id for a in response.agencies]
    ordered = recommended + [a["id"] for a in catalog if a["id"] not in recommended]
    names = {a["id"]: a["name"] for a in catalog}
    with st.expander("📝 相談メモを作る（支援機関に持っていく1枚）", expanded=bool(turn.get("memo_pdf"))):
        st.caption(
            "この相談の内容・現在地・相談先に伝えること・資料の出典を1枚にまとめます。"
            "資料と相談に書かれたことだけを載せます。"
        )
        with st.form(key=f"memo_form_{index}", border=False):
            st.selectbox(
                "あて先（相談先）",
                range(len(ordered)),
                format_func=lambda i: (
                    str(names.get(ordered[i], ordered[i]))
                    + ("（おすすめ）" if ordered[i] in recommended else "")
                ),
                key=f"memo_agency_{index}",
            )
            left, middle, right = st.columns([2, 2, 1])
            left.text_input("会社名（任意）", key=f"memo_company_{index}", max_chars=100)
            middle.text_input("業種（任意）", key=f"memo_industry_{index}", max_chars=100)
            right.number_input(
                "従業員数（任意）", min_value=0, max_value=1_000_000, step=1, key=f"memo_employees_{index}"
            )
            st.form_submit_button(
                "相談メモを作る", type="primary", on_click=_make_memo, args=(api, index, ordered)
            )
        if turn.get("memo_error"):
            st.error(f"メモを作れませんでした: {turn['memo_error']}")
        elif turn.get("memo_pdf"):
            pdf, md = st.columns(2)
            pdf.download_button(
                "⬇️ PDF をダウンロード",
                turn["memo_pdf"],
                file_name="DX相談メモ.pdf",
                mime="application/pdf",
                key=f"memo_pdf_{index}",
            )
            md.download_button(
                "⬇️ Markdown をダウンロード",
                turn["memo_md"],
                file_name="DX相談メモ.md",
                mime="text/markdown",
                key=f"memo_md_{index}",
            )


# ---- self-check ------------------------------------------------------------------------------
def selfcheck_questions(all_stages: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """One yes/no question per stage 2–4, built from the guide's own examples for that stage."""
    out = []
    for stage in all_stages:
        if stage["level"] >= 2 and stage["example_quotes"]:
            examples = "」「".join(stage["example_quotes"][:2])
            out.append((stage["level"], f"「{examples}」のような取り組みをしていますか？"))
    return out


def selfcheck_level(answers: dict[int, bool]) -> int:
    """Stage 1, plus one for each consecutive 'yes' from stage 2 upward."""
    level = 1
    for stage_level in sorted(answers):
        if not answers[stage_level]:
            break
        level = stage_level
    return level


def _selfcheck_form(all_stages: list[dict[str, Any]]) -> None:
    with st.expander("🧭 DX段階セルフチェック", expanded=False), st.form("selfcheck", border=False):
        st.caption("経済産業省の資料にある取り組み例に、はい／いいえで答えてください。")
        answers: dict[int, bool] = {}
        for level, question in selfcheck_questions(all_stages):
            choice = st.radio(question, ["はい", "いいえ"], index=1, key=f"sc_{level}", horizontal=True)
            answers[level] = choice == "はい"
        if st.form_submit_button("判定する", type="primary"):
            st.session_state.selfcheck_level = selfcheck_level(answers)


def _selfcheck_result(api_url: str, all_stages: list[dict[str, Any]]) -> None:
    level = st.session_state.selfcheck_level
    stage = next((s for s in all_stages if s["level"] == level), None)
    if stage is None:
        return
    with st.container(border=True):
        st.markdown(f"#### 🧭 セルフチェックの結果: 段階{level}「{render.escape_md(stage['label'])}」")
        render.stage_track(level, all_stages)
        description = stage["description_quote"]
        st.markdown(f"**この段階の姿**: 「{render.escape_md(description)}」{_source(api_url, description)}")
        st.markdown("**最初の一歩（資料より）**")
        steps = [
            f"- 「{render.escape_md(q)}」{_source(api_url, q)}" for q in stage.get("next_step_quotes", [])[:3]
        ]
        st.markdown("\n".join(steps))
        ask, close = st.columns([3, 1])
        example = stage["example_quotes"][0] if stage["example_quotes"] else stage["label"]
        ask.button(
            "この結果をもとにチャットで相談する",
            key="sc_ask",
            on_click=_ask,
            args=(f"「{example}」のような状況です。次に何から始めればいい？",),
        )
        if close.button("閉じる", key="sc_close"):
            st.session_state.selfcheck_level = None
            st.rerun()


def _source(api_url: str, quote: str) -> str:
    hit = render.locate_quote(api_url, quote)
    if hit is None:
        return ""
    page = f" p.{hit['page']}" if hit.get("page") is not None else ""
    heading = f"「{hit['heading']}」" if hit.get("heading") else ""
    return f" :gray[（出典: {render.escape_md(hit['title'] + page + heading)}）]"


# ---- chat ------------------------------------------------------------------------------------
def _stream_answer(api: ApiClient, question: str) -> None:
    messages = [*_history(), Message(role="user", content=question)]
    st.session_state.turns.append({"role": "user", "content": question})
    with st.chat_message("user"):
        st.markdown(render.escape_answer(question))
    result: dict[str, Any] = {}

    def pieces() -> Any:
        body = BodyStream()
        try:
            for event in api.stream_chat(messages):
                if event.kind == "delta":
                    if text := body.feed(event.text):
                        yield render.escape_answer(text)
                elif event.kind == "final":
                    result["response"] = event.response
                elif event.kind == "error":
                    result["error"] = event.text
        except ApiUnavailable as exc:
            result["error"] = exc.message
        except ApiError as exc:
            result["error"] = exc.detail
        if tail := body.flush():
            yield render.escape_answer(tail)

    with st.chat_message("assistant"):
        st.write_stream(pieces())
        if "error" in result or "response" not in result:
            detail = result.get("error", "回答を受け取れませんでした。")
            st.error(detail)
            st.session_state.turns.append({"role": "assistant", "content": detail, "error": True})
            return
    response: ChatResponse = result["response"]
    st.session_state.turns.append(
        {"role": "assistant", "content": answer_body(response.answer), "response": response}
    )
    st.session_state.scroll_to_answer = True
    st.rerun()


def main() -> None:
    _init_state()
    api = render.client()
    with st.sidebar:
        st.markdown("### 質問の例")
        for i, example in enumerate(EXAMPLES):
            st.button(example, key=f"example_{i}", on_click=_ask, args=(example,), width="stretch")
    st.title("DXナビ")
    st.caption("中小企業のDXの相談に、経済産業省の資料の該当箇所を引用してお答えします。")
    require_ready = render.require_api(api)
    all_stages = render.stages(api.base_url)
    with st.sidebar:
        _selfcheck_form(all_stages)
        st.divider()
        st.button("🔄 会話をリセット", key="reset", on_click=_reset, width="stretch")
        st.caption(
            f"索引: {require_ready.get('documents', '?')} 文書・{require_ready.get('chunks', '?')} チャンク"
        )

    if st.session_state.selfcheck_level:
        _selfcheck_result(api.base_url, all_stages)

    turns = st.session_state.turns
    if not turns:
        st.info(
            "下の入力欄に、事業の状況と困っていることを書いてください。左の「質問の例」も使えます。",
            icon="💡",
        )
    for i, turn in enumerate(turns):
        with st.chat_message(turn["role"]):
            if turn.get("error"):
                st.error(turn["content"])
            elif turn["role"] == "user":
                st.markdown(render.escape_answer(turn["content"]))
            else:
                render.answer(turn["response"], all_stages)
                _feedback_row(api, i, turn)
                _memo_panel(api, i, turn)

    if st.session_state.pop("scroll_to_answer", False):
        render.scroll_to_last_answer()

    prompt = st.chat_input(
        "DXについて相談してください（例: FAXで受発注しています。何から始めればいい？）", max_chars=MAX_CHARS
    )
    question = prompt or st.session_state.pending
    st.session_state.pending = None
    if question:
        _stream_answer(api, question)


main()
