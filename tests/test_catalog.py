"""The agency and stage catalogs stay grounded in the corpus: every quote is a verbatim span of it."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "meti-dx-policy-overview.txt"
DATA = ROOT / "bot" / "data"

REQUIRED_AGENCY_IDS = {
    "regional_bank",
    "regional_it_vendor",
    "major_it_vendor",
    "consultant",
    "chamber",
    "professional",
    "saas_vendor",
    "public_body",
    "university",
    "industry_association",
    "regional_dx_lab",
}
NEEDS_VOCABULARY = {
    "general",
    "financing",
    "system",
    "strategy",
    "security",
    "subsidy",
    "tools",
    "training",
    "regional",
    "accounting",
    "data",
}
TEXT_FIELDS = ("name", "helps_with", "when_to_go", "reason")


def squash(text: str) -> str:
    """NFKC-normalise and drop all whitespace, so PDF line breaks do not matter."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@cache
def corpus_text() -> str:
    return squash(CORPUS.read_text(encoding="utf-8"))


@cache
def load(name: str) -> list[dict]:
    data = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    assert isinstance(data, list), f"{name} must be a YAML list"
    return data


def agencies() -> list[dict]:
    return load("agencies.yaml")


def stages() -> list[dict]:
    return load("stages.yaml")


def agency_quotes() -> list[tuple[str, str]]:
    return [(a["id"], q) for a in agencies() for q in a.get("quotes") or []]


def stage_quotes() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for s in stages():
        sid = f"stage {s['level']}"
        out.append((f"{sid} description_quote", s["description_quote"]))
        out += [(f"{sid} example_quotes", q) for q in s.get("example_quotes") or []]
        out += [(f"{sid} next_step_quotes", q) for q in s.get("next_step_quotes") or []]
    return out


def all_quotes() -> list[tuple[str, str]]:
    return agency_quotes() + stage_quotes()


def test_the_corpus_file_is_present_and_not_empty():
    assert CORPUS.is_file(), f"missing corpus file {CORPUS}"
    assert len(corpus_text()) > 10_000


def test_every_agency_quote_is_found_in_the_corpus():
    missing = [f"{aid}: {q!r}" for aid, q in agency_quotes() if squash(q) not in corpus_text()]
    assert not missing, "agency quotes not found verbatim in the corpus:\n" + "\n".join(missing)


def test_every_stage_quote_is_found_in_the_corpus():
    missing = [f"{sid}: {q!r}" for sid, q in stage_quotes() if squash(q) not in corpus_text()]
    assert not missing, "stage quotes not found verbatim in the corpus:\n" + "\n".join(missing)


def test_every_quote_is_written_in_nfkc_form_on_one_line():
    bad = [
        f"{sid}: {q!r}"
        for sid, q in all_quotes()
        if not isinstance(q, str) or not q.strip() or "\n" in q or unicodedata.normalize("NFKC", q) != q
    ]
    assert not bad, "quotes must be non-empty, one line and NFKC-normalised:\n" + "\n".join(bad)


def test_all_required_agency_ids_are_present_and_unique():
    ids = [a["id"] for a in agencies()]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate agency ids: {duplicates}"
    missing = sorted(REQUIRED_AGENCY_IDS - set(ids))
    assert not missing, f"missing agency ids: {missing}"


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_every_agency_has_a_non_empty_text_field(field):
    empty = [a["id"] for a in agencies() if not isinstance(a.get(field), str) or not a[field].strip()]
    assert not empty, f"agencies with an empty {field}: {empty}"


def test_every_agency_needs_only_come_from_the_vocabulary():
    for a in agencies():
        needs = a.get("needs") or []
        assert needs, f"{a['id']}: needs is empty"
        unknown = [n for n in needs if n not in NEEDS_VOCABULARY]
        assert not unknown, f"{a['id']}: needs outside the vocabulary: {unknown}"
        assert len(needs) == len(set(needs)), f"{a['id']}: repeated needs {needs}"


def test_every_agency_has_what_to_ask_quotes_and_keywords():
    for a in agencies():
        ask = a.get("what_to_ask") or []
        assert ask and all(isinstance(x, str) and x.strip() for x in ask), f"{a['id']}: empty what_to_ask"
        assert 1 <= len(a.get("quotes") or []) <= 4, f"{a['id']}: needs 1-4 quotes"
        keywords = a.get("keywords") or []
        assert keywords, f"{a['id']}: no keywords"
        not_lower = [k for k in keywords if k != k.lower()]
        assert not not_lower, f"{a['id']}: keywords must be lowercase where ASCII: {not_lower}"


def test_only_the_regional_dx_lab_lists_regions():
    for a in agencies():
        if a["id"] != "regional_dx_lab":
            assert not a.get("regions"), f"{a['id']}: regions are only for regional_dx_lab"


def test_every_regional_dx_lab_region_is_named_in_the_corpus():
    lab = next(a for a in agencies() if a["id"] == "regional_dx_lab")
    regions = lab.get("regions") or []
    assert regions, "regional_dx_lab has no regions"
    assert len(regions) == len(set(regions)), "regional_dx_lab lists a region twice"
    missing = [r for r in regions if squash(r) not in corpus_text()]
    assert not missing, f"regional_dx_lab regions not named in the corpus: {missing}"
    # The corpus says 43 regions were selected (「全国43地域」); the catalog lists them all.
    assert "全国43地域" in corpus_text()
    assert len(regions) == 43, f"expected the 43 selected regions, got {len(regions)}"


@pytest.mark.parametrize("region", ["山形県", "福岡市"])
def test_a_named_region_is_listed_if_and_only_if_the_corpus_names_it(region):
    lab = next(a for a in agencies() if a["id"] == "regional_dx_lab")
    assert (region in lab["regions"]) == (region in corpus_text())


def test_there_are_four_stages_with_levels_one_to_four():
    assert [s["level"] for s in stages()] == [1, 2, 3, 4]
    labels = [s["label"] for s in stages()]
    assert labels == ["デジタル化が全く未着手", "デジタイゼーション", "デジタライゼーション", "DX"]
    assert all(squash(label) in corpus_text() for label in labels)


def test_every_stage_has_cues_and_example_and_next_step_quotes():
    for s in stages():
        lvl = s["level"]
        assert s.get("cues"), f"stage {lvl}: no cues"
        assert all(isinstance(c, str) and c.strip() for c in s["cues"]), f"stage {lvl}: blank cue"
        assert len(s.get("example_quotes") or []) >= 1, f"stage {lvl}: no example quote"
        assert len(s.get("next_step_quotes") or []) >= 1, f"stage {lvl}: no next-step quote"
        assert isinstance(s.get("description_quote"), str) and s["description_quote"].strip()
