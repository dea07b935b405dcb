"""DXナビの画面（Streamlit）: `dxnavi ui` or `make run` starts it; it talks to the API at DXNAVI_API_URL."""

from __future__ import annotations

import streamlit as st

from ground import threads

threads.configure()  # started by `dxnavi ui`/`run` with these set already; this covers `streamlit run`

st.set_page_config(page_title="DXナビ", page_icon="🧭", layout="wide")
pages = [
    st.Page("pages/chat.py", title="相談チャット", icon="💬", default=True),
    st.Page("pages/search.py", title="条文検索", icon="🔎", url_path="search"),
]
st.navigation(pages).run()
