"""Checks on the public evaluation gold set (evals/datasets/public.jsonl).

The gold set is judged against the bundled corpus after NFKC normalisation and
removal of all whitespace, the same comparison the evaluator uses.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "evals" / "datasets" / "public.jsonl"
CORPUS = ROOT / "corpus" / "meti-dx-policy-overview.txt"

KEYS = {
    "id",
    "category",
    "question",
    "gold_evidence",
    "key_facts",
    "expected_agency",
    "answerable",
}
CATEGORIES = {"start", "agency", "clause", "fact", "region", "out_of_scope"}
ID_PREFIX = {
    "start": "start",
    "agency": "agency",
    "clause": "clause",
    "fact": "fact",
    "region": "region",
    "out_of_scope": "oos",
}
# Names of the agency catalog; expected_agency must be part of one of them.
AGENCY_NAMES = [
    "地域金融機関（地方銀行・信用金庫等）",
    "地域ITベンダー",
    "大手ITベンダー",
    "地域のコンサルタント（ITコーディネータ・中小企業診断士）",
    "商工会・商工会議所・中小企業団体中央会",
    "士業（税理士・公認会計士・社会保険労務士・情報処理安全確保支援士）",
    "SaaSツール事業者",
    "公益財団法人・一般社団法人・地方公共団体",
    "大学・教育機関",
    "業界団体",
    "地域DX推進ラボ",
]


def norm(text: str) -> str:
    """NFKC-normalise and drop all whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=1)
def load_lines() -> list[str]:
    return [line for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]


@lru_cache(maxsize=1)
def load_items() -> list[dict]:
    return [json.loads(line) for line in load_lines()]


@lru_cache(maxsize=1)
def normalized_corpus() -> str:
    return norm(CORPUS.read_text(encoding="utf-8"))


def test_every_line_is_a_json_object():
    for number, line in enumerate(load_lines(), start=1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - failure path
            pytest.fail(f"line {number} is not valid JSON: {exc}")
        assert isinstance(obj, dict), f"line {number} is not a JSON object"


def test_every_item_has_exactly_the_expected_keys_and_types():
    for item in load_items():
        item_id = item.get("id")
        assert set(item) == KEYS, f"{item_id}: keys {sorted(item)} != {sorted(KEYS)}"
        assert isinstance(item["id"], str) and item["id"], f"{item_id}: id must be a non-empty str"
        assert item["category"] in CATEGORIES, f"{item_id}: invalid category {item['category']!r}"
        assert isinstance(item["question"], str) and item["question"].strip(), f"{item_id}: empty question"
        assert isinstance(item["gold_evidence"], list), f"{item_id}: gold_evidence must be a list"
        assert all(isinstance(s, str) for s in item["gold_evidence"]), (
            f"{item_id}: gold_evidence must hold str"
        )
        assert isinstance(item["key_facts"], list), f"{item_id}: key_facts must be a list"
        assert all(isinstance(s, str) for s in item["key_facts"]), f"{item_id}: key_facts must hold str"
        assert item["expected_agency"] is None or isinstance(item["expected_agency"], str), (
            f"{item_id}: expected_agency must be str or null"
        )
        assert isinstance(item["answerable"], bool), f"{item_id}: answerable must be a bool"


def test_ids_are_unique_and_prefixed_by_category():
    ids = [item["id"] for item in load_items()]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"
    for item in load_items():
        prefix = ID_PREFIX[item["category"]]
        assert re.fullmatch(rf"{prefix}-\d{{3}}", item["id"]), (
            f"{item['id']}: id should look like {prefix}-001 for category {item['category']}"
        )


def test_the_set_is_large_enough_and_covers_every_category():
    items = load_items()
    counts = Counter(item["category"] for item in items)
    assert len(items) >= 100, f"only {len(items)} items"
    assert counts["out_of_scope"] >= 10, f"only {counts['out_of_scope']} out_of_scope items"
    missing = CATEGORIES - set(counts)
    assert not missing, f"categories without items: {sorted(missing)}"


def test_every_gold_span_is_found_in_the_corpus():
    corpus = normalized_corpus()
    missing = [
        f"{item['id']}: {span!r}"
        for item in load_items()
        for span in item["gold_evidence"]
        if norm(span) not in corpus
    ]
    assert not missing, "gold_evidence spans not in corpus:\n" + "\n".join(missing)


def test_every_key_fact_is_found_in_the_corpus():
    corpus = normalized_corpus()
    missing = [
        f"{item['id']}: {fact!r}"
        for item in load_items()
        for fact in item["key_facts"]
        if norm(fact) not in corpus
    ]
    assert not missing, "key_facts not in corpus:\n" + "\n".join(missing)


def test_gold_spans_and_key_facts_have_usable_lengths():
    for item in load_items():
        if item["category"] == "out_of_scope":
            continue
        assert 1 <= len(item["gold_evidence"]) <= 3, f"{item['id']}: needs 1-3 gold_evidence spans"
        assert 1 <= len(item["key_facts"]) <= 3, f"{item['id']}: needs 1-3 key_facts"
        for span in item["gold_evidence"]:
            assert 8 <= len(norm(span)) <= 40, f"{item['id']}: gold span {span!r} should be 8-40 chars"
        for fact in item["key_facts"]:
            assert 2 <= len(norm(fact)) <= 20, f"{item['id']}: key fact {fact!r} should be 2-20 chars"


def test_answerable_is_false_exactly_for_out_of_scope_items():
    for item in load_items():
        expected = item["category"] != "out_of_scope"
        assert item["answerable"] is expected, (
            f"{item['id']}: answerable={item['answerable']} but category={item['category']}"
        )


def test_out_of_scope_items_have_no_gold_and_no_agency():
    for item in load_items():
        if item["category"] != "out_of_scope":
            continue
        assert item["gold_evidence"] == [], f"{item['id']}: out_of_scope must have empty gold_evidence"
        assert item["key_facts"] == [], f"{item['id']}: out_of_scope must have empty key_facts"
        assert item["expected_agency"] is None, f"{item['id']}: out_of_scope must have null expected_agency"


def test_agency_and_region_items_name_an_agency_from_the_catalog():
    for item in load_items():
        agency = item["expected_agency"]
        if item["category"] in {"agency", "region"}:
            assert agency, f"{item['id']}: {item['category']} items need an expected_agency"
        if item["category"] in {"clause", "fact"}:
            assert agency is None, f"{item['id']}: {item['category']} items should have null expected_agency"
        if agency is not None:
            assert any(agency in name for name in AGENCY_NAMES), (
                f"{item['id']}: expected_agency {agency!r} matches no catalog name"
            )
