"""Sentence splitting and chunking (ingest/split.py): boundaries, sizes, overlap, stable ids, offsets."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import pytest

from ingest.split import Chunk, chunk_id, split_segment, split_sentences
from ingest.structure import Segment, segment_pages
from ingest.tokenize import count_tokens
from tests.conftest import BUNDLED_CORPUS

RAW = (BUNDLED_CORPUS / "meti-dx-policy-overview.txt").read_text(encoding="utf-8")
TARGET, MAX = 220, 320  # the defaults in Settings
DOC = "meti-dx-policy-overview"


@pytest.fixture(scope="module")
def segments() -> list[Segment]:
    return segment_pages([(1, RAW)], "txt")


@pytest.fixture(scope="module")
def chunks(segments: list[Segment]) -> list[Chunk]:
    return [c for seg in segments for c in split_segment(seg, DOC, "METI説明資料", TARGET, MAX, overlap=1)]


def segment_of(segments: list[Segment], chunk: Chunk) -> Segment:
    return next(s for s in segments if s.page == chunk.page)


# --- sentences --------------------------------------------------------------------------------------


def test_sentences_end_at_japanese_full_stops_and_line_ends() -> None:
    text = "DX認定制度の概要\n• DX認定事業者は、各種支援措置を活用することが可能。融資が受けられます！本当？"

    assert [s.text for s in split_sentences(text)] == [
        "DX認定制度の概要",
        "• DX認定事業者は、各種支援措置を活用することが可能。",
        "融資が受けられます！",
        "本当？",
    ]


def test_sentence_offsets_point_into_the_text() -> None:
    text = "  • 一文目です。  二文目です。\n\n三文目（注）です。"

    for sentence in split_sentences(text):
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.text == sentence.text.strip()


def test_closing_bracket_stays_with_its_sentence() -> None:
    sentences = split_sentences("ITコーディネータは「プロフェッショナル。」次の文。")

    assert [s.text for s in sentences] == ["ITコーディネータは「プロフェッショナル。」", "次の文。"]


# --- chunks of the bundled text ------------------------------------------------------------------


def test_chunk_offsets_give_back_the_chunk_text(segments: list[Segment], chunks: list[Chunk]) -> None:
    for chunk in chunks:
        assert segment_of(segments, chunk).text[chunk.start : chunk.end] == chunk.text


def test_chunks_never_start_or_end_inside_a_sentence_that_fits(
    segments: list[Segment], chunks: list[Chunk]
) -> None:
    for chunk in chunks:
        sentences = split_sentences(segment_of(segments, chunk).text)
        for offset, edge in ((chunk.start, "start"), (chunk.end, "end")):
            inside = [s for s in sentences if s.start < offset < s.end]
            for sentence in inside:
                assert count_tokens(sentence.text) > MAX, f"chunk {edge} cuts {sentence.text!r}"


def test_chunk_sizes_are_in_the_target_range_on_average(chunks: list[Chunk]) -> None:
    tokens = [count_tokens(c.text) for c in chunks]
    chars = [len(c.text) for c in chunks]

    assert sum(chars) / len(chars) <= 600
    assert 150 <= sum(tokens) / len(tokens) <= 300


def test_no_chunk_is_far_over_the_token_limit(chunks: list[Chunk]) -> None:
    # Sizes are summed per sentence; tokenizing the joined text may differ by a few morphemes.
    assert max(count_tokens(c.text) for c in chunks) <= MAX * 1.1


def test_every_chunk_knows_its_document_slide_and_heading(chunks: list[Chunk]) -> None:
    assert all(c.doc_id == DOC and c.title == "METI説明資料" and c.page >= 1 for c in chunks)
    assert sum(1 for c in chunks if c.heading) >= 0.9 * len(chunks)
    pillars = [c for c in chunks if "「5つの柱」として整理" in c.text]
    assert pillars and pillars[0].heading == "DX経営に求められる5つの柱(1/3)"


def test_consecutive_chunks_of_a_slide_overlap_by_one_sentence(
    segments: list[Segment], chunks: list[Chunk]
) -> None:
    pairs = [(a, b) for a, b in itertools.pairwise(chunks) if a.page == b.page]
    assert pairs, "the bundled text should have slides longer than one chunk"

    for before, after in pairs:
        assert after.start < before.end
        shared = segment_of(segments, before).text[after.start : before.end]
        assert [s.text for s in split_sentences(shared)] == [split_sentences(before.text)[-1].text]


def test_chunk_ids_are_unique_and_stable(segments: list[Segment], chunks: list[Chunk]) -> None:
    again = [c for seg in segments for c in split_segment(seg, DOC, "別の題名", TARGET, MAX, overlap=1)]

    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]
    assert all(re.fullmatch(rf"{DOC}:[0-9a-f]{{16}}", c.chunk_id) for c in chunks)


def test_editing_one_slide_changes_only_that_slides_chunk_ids(segments: list[Segment]) -> None:
    edited = [replace(s, text=s.text + "\n追記した一文です。") if s.page == 3 else s for s in segments]

    def ids(segs: list[Segment]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for seg in segs:
            out[seg.page] = [c.chunk_id for c in split_segment(seg, DOC, "t", TARGET, MAX)]
        return out

    before, after = ids(segments), ids(edited)
    assert before[3] != after[3]
    assert {p: v for p, v in before.items() if p != 3} == {p: v for p, v in after.items() if p != 3}


def test_chunk_id_depends_on_document_page_and_text() -> None:
    base = chunk_id("doc", 1, "本文")

    assert chunk_id("doc", 1, "本文") == base
    assert (
        len({base, chunk_id("doc2", 1, "本文"), chunk_id("doc", 2, "本文"), chunk_id("doc", 1, "本文。")})
        == 4
    )


# --- limits ----------------------------------------------------------------------------------------------


def test_a_sentence_over_the_limit_is_cut_at_commas() -> None:
    clause = "中小企業の経営者が自社のデジタル化の状況を振り返り"
    long_sentence = "、".join([clause] * 40) + "。"
    segment = Segment(page=1, heading=None, text=long_sentence)

    chunks = split_segment(segment, "doc", "t", target_tokens=50, max_tokens=80, overlap=0)

    assert len(chunks) > 1
    assert all(count_tokens(c.text) <= 80 for c in chunks)
    assert "".join(c.text for c in chunks) == long_sentence
    assert all(c.text.endswith(("、", "。")) for c in chunks)


def test_a_sentence_without_commas_over_the_limit_is_cut_by_length() -> None:
    text = "デジタル" * 200 + "。"

    chunks = split_segment(Segment(1, None, text), "doc", "t", target_tokens=50, max_tokens=80, overlap=0)

    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == text


def test_small_tail_joins_the_chunk_before_it() -> None:
    sentences = [f"第{i}の取組として業務のデジタル化を進めることが重要である。" for i in range(1, 8)]
    text = "\n".join([*sentences, "以上。"])

    chunks = split_segment(Segment(1, None, text), "doc", "t", target_tokens=40, max_tokens=80, overlap=0)

    assert chunks[-1].text.endswith("以上。")
    assert count_tokens(chunks[-1].text) > count_tokens("以上。")


def test_empty_segment_gives_no_chunks() -> None:
    assert split_segment(Segment(1, None, ""), "doc", "t") == []


@pytest.mark.parametrize(("target", "maximum"), [(0, 320), (-5, 320), (300, 200)])
def test_bad_token_sizes_are_refused(target: int, maximum: int) -> None:
    with pytest.raises(ValueError, match="target_tokens must be > 0 and max_tokens >= target_tokens"):
        split_segment(Segment(1, None, "本文。"), "doc", "t", target_tokens=target, max_tokens=maximum)


def test_negative_overlap_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap must be >= 0"):
        split_segment(Segment(1, None, "本文。"), "doc", "t", overlap=-1)


def test_embed_text_has_the_heading_and_drops_chart_values() -> None:
    text = "• DXに取り組む企業が増加している。\n73.7% 69.3% 55.8%"
    chunk = split_segment(Segment(2, "DXとは何か", text), "doc", "t")[0]

    assert chunk.text == text
    assert chunk.embed_text == "DXとは何か\n• DXに取り組む企業が増加している。"
