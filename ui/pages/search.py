"""条文検索: support staff look up passages in the indexed guides and copy them as citations."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from bot.schemas import old_version_note
from ui import render
from ui.client import ApiError, ApiUnavailable


def _result_card(result: dict[str, Any], terms: list[str], numbers: list[str]) -> None:
    with st.container(border=True):
        page = f"p.{result['page']}" if result.get("page") is not None else ""
        heading = f"「{result['heading']}」" if result.get("heading") else ""
        clause = f"【{result['clause']}】 " if result.get("clause") else ""
        st.markdown(f"**{result['rank']}. {render.escape_md(clause + result['title'])}**")
        st.caption(
            render.escape_md(f"{page} {heading}".strip()) + f"　（関連が高い順の{result['rank']}件目）"
        )
        if result.get("superseded_by"):
            st.warning(old_version_note(result["title"], result["superseded_by"]), icon="🕰️")
        st.markdown(render.highlight(result["text"], terms + numbers, width=160))
        link = render.document_link(result.get("url"), result.get("page"))
        if link:
            st.markdown(link)
        st.caption("引用文（右上のボタンでコピー）")
        excerpt = render.excerpt(result["text"], terms)
        st.code(
            render.copy_text(
                excerpt, result["title"], result.get("page"), result.get("heading"), result.get("url")
            ),
            language=None,
            wrap_lines=True,
        )


def main() -> None:
    api = render.client()
    st.title("条文検索")
    st.caption("支援担当者向け: 資料の該当箇所を探して、出典つきの引用文をコピーできます。")
    render.require_api(api)
    docs = render.documents(api.base_url)
    titles = {d["doc_id"]: d["title"] for d in docs}
    with st.form("search"):
        query = st.text_input("検索語", placeholder="例: 柱3-3、DX認定 メリット、ITコーディネータ")
        left, right = st.columns([3, 1])
        selected = left.multiselect(
            "文書で絞り込む（空欄ならすべて）",
            options=list(titles),
            format_func=lambda d: titles.get(d, d),
            placeholder="すべての文書",
        )
        k = right.number_input("件数", min_value=1, max_value=20, value=5)
        submitted = st.form_submit_button("検索", type="primary")
    if submitted:
        if not query.strip():
            st.warning("検索語を入力してください。")
            st.session_state.pop("search_result", None)
        else:
            try:
                st.session_state.search_result = api.search(query.strip(), int(k), selected or None)
            except ApiUnavailable as exc:
                st.error(exc.message)
                return
            except ApiError as exc:
                st.error(exc.detail)
                return
    result = st.session_state.get("search_result")
    if not result:
        return
    terms = [result["query"], *result.get("expansions", [])]
    numbers = re.findall(r"\d+(?:[-－]\d+)+", result["query"])  # 「柱3-3」 → also mark a bare 「3-3」
    if not result["results"]:
        st.info(f"「{result['query']}」に当てはまる箇所は見つかりませんでした。言い換えて検索してください。")
        return
    st.markdown(f"**「{render.escape_md(result['query'])}」の検索結果: {len(result['results'])} 件**")
    if result.get("expansions"):
        st.caption("あわせて検索した語: " + "、".join(render.escape_md(e) for e in result["expansions"]))
    for item in result["results"]:
        _result_card(item, terms, numbers)


main()
