"""MeCab only ever sees bounded input (issue 12: a 4 MB run without a line end crashed ingest with SIGSEGV)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ingest.tokenize import MAX_PARSE_CHARS, count_tokens, pieces, search_tokens


@pytest.mark.parametrize(
    "text",
    [
        "",
        "短い文。",
        "DX推進のポイント" * 2000,  # no sentence end at all
        ("あ" * 3000 + "。") * 5,  # sentence ends far apart
        "x" * (MAX_PARSE_CHARS * 3 + 7),
        "、".join(["中小企業のDX"] * 3000),
    ],
)
def test_pieces_give_back_the_text_and_never_exceed_the_limit(text: str) -> None:
    parts = list(pieces(text))
    assert "".join(parts) == text
    assert all(0 < len(p) <= MAX_PARSE_CHARS for p in parts)


def test_pieces_cut_after_a_sentence_end_when_one_is_near() -> None:
    text = ("あ" * 3000 + "。") * 3
    assert all(p.endswith("。") for p in list(pieces(text))[:-1])


def test_short_text_is_tokenized_as_one_parse() -> None:
    assert search_tokens("DX推進指標の自己診断") == search_tokens("DX推進指標の自己診断")
    assert count_tokens("中小企業のDX") == len(search_tokens("中小企業のDX", form="surface")) + 1  # の


def test_a_five_megabyte_line_without_sentence_ends_is_tokenized_without_crashing() -> None:
    # In a child process: before the fix MeCab killed the process (SIGSEGV), which would end the test run.
    code = (
        "from ingest.tokenize import count_tokens, search_tokens\n"
        "text = 'DX推進のポイント' * 600000\n"
        "print(count_tokens(text), len(search_tokens(text[:400000])))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    tokens, searched = map(int, done.stdout.split())
    assert tokens >= 2_400_000 and searched > 0
