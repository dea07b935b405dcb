"""The eval suite: metric functions on hand-made cases, the dataset loader, and the runner, report, gate
and compare end to end on a tiny dataset with the real advisor over the bundled corpus."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.advisor import Advisor
from dxnavi.cli import app
from evals import metrics as m
from evals.compare import compare_metrics, compare_runs, is_regression
from evals.dataset import DatasetError, load_dataset, parse_items, split_of
from evals.judge import Judge, make_judge, parse_score
from evals.report import worst_items
from evals.runner import EvalRun, run_eval
from evals.thresholds import DEFAULT_THRESHOLDS, check, load_thresholds
from ground.errors import ConfigError
from tests.conftest import BuiltIndex

PUBLIC = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "public.jsonl"
ITEM = {
    "id": "fact-999",
    "category": "fact",
    "question": "DX認定の申請は？",
    "gold_evidence": ["DX認定制度"],
    "key_facts": ["DX認定"],
    "expected_agency": None,
    "answerable": True,
}


def line(**changes: Any) -> str:
    return json.dumps({**ITEM, **changes}, ensure_ascii=False)


# --- retrieval metrics -------------------------------------------------------------------------------


def test_relevance_ignores_whitespace_line_breaks_and_full_width_letters():
    assert m.relevant("ＤＸ認定\n制度 について", ["DX認定制度"])
    assert not m.relevant("DX推進指標", ["DX認定制度"])


def test_recall_at_k_is_a_hit_within_the_top_k():
    rels = [False, True, False, True]
    assert [m.recall_at_k(rels, k) for k in (1, 3, 5, 10)] == [0.0, 1.0, 1.0, 1.0]
    assert m.recall_at_k([], 5) == 0.0


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_chunk():
    assert m.mrr_at_k([False, False, True]) == pytest.approx(1 / 3)
    assert m.mrr_at_k([True, True]) == 1.0
    assert m.mrr_at_k([False] * 10 + [True], k=10) == 0.0


def test_ndcg_uses_the_number_of_relevant_chunks_in_the_index_for_the_ideal_ranking():
    rels = [False, True, False, True]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert m.ndcg_at_k(rels, 10, n_relevant=2) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    ideal3 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m.ndcg_at_k(rels, 10, n_relevant=3) == pytest.approx(dcg / ideal3)
    assert m.ndcg_at_k([True, False], 10, n_relevant=1) == 1.0
    assert m.ndcg_at_k([False, False], 10, n_relevant=1) == 0.0


def test_count_relevant_counts_chunks_of_the_pool_holding_a_gold_span():
    assert m.count_relevant(["DX認定 制度", "DX推進指標", "dx認定制度"], ["DX認定制度"]) == 1


# --- answer metrics ------------------------------------------------------------------------------------


def test_key_fact_coverage_is_the_share_of_facts_found_after_normalization():
    assert m.key_fact_coverage(
        "成功体験を\n積み重ねる。ＩＴ導入", ["成功体験", "IT導入", "主治医"]
    ) == pytest.approx(2 / 3)
    assert m.key_fact_coverage("何か", []) is None


def test_citation_validity_counts_verbatim_quotes_and_never_matches_across_two_texts():
    haystack = m.corpus_haystack(["身の回りの業務の\nデジタル化から始め", "成功体験"])
    assert m.citation_validity(
        ["業務のデジタル化", "デジタル化から始め成功体験", "捏造された文"], haystack
    ) == (1, 3)
    assert not m.quote_is_valid("", haystack)


def test_citation_support_needs_a_quote_that_contains_a_gold_span():
    assert (
        m.citation_support(["まず、身の回りの業務の デジタル化から始めることが大事"], ["業務のデジタル化"])
        == 1.0
    )
    assert m.citation_support(["DX推進指標"], ["業務のデジタル化"]) == 0.0
    assert m.citation_support([], []) is None


def test_agency_top1_compares_only_the_first_recommendation():
    assert m.agency_top1(["地域金融機関（地方銀行・信用金庫等）", "商工会"], "金融機関") == 1.0
    assert m.agency_top1(["商工会", "地域金融機関"], "金融機関") == 0.0
    assert m.agency_top1([], "金融機関") == 0.0
    assert m.agency_top1(["商工会"], None) is None


def test_refusal_precision_and_recall_treat_refusing_as_the_positive_class():
    # (refused, answerable): 2 correct refusals, 1 wrong refusal, 1 missed refusal, 1 answered
    pairs = [(True, False), (True, False), (True, True), (False, False), (False, True)]
    precision, recall = m.refusal_precision_recall(pairs)
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 3)
    assert m.refusal_precision_recall([(False, True), (False, False)]) == (None, 0.0)


def test_percentile_interpolates_linearly():
    assert m.percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert m.percentile([1.0] * 19 + [100.0], 95) == pytest.approx(5.95)
    assert m.percentile([], 95) is None


def test_out_of_scope_items_get_no_retrieval_scores():
    scores = m.score_item(
        retrieved_texts=["DX認定制度"], answer="お答えできません", quotes=[], agency_names=[],
        gold_evidence=[], key_facts=[], expected_agency=None, answerable=False, haystack="",
    )  # fmt: skip
    assert scores["recall@5"] is None and scores["mrr@10"] is None and scores["key_fact_coverage"] is None


def test_aggregate_micro_averages_citation_validity_and_leaves_undefined_values_empty():
    def record(valid: float, quotes: float, refused: bool, answerable: bool) -> dict[str, Any]:
        scores = {
            "citation_valid_quotes": valid,
            "citation_quotes": quotes,
            "recall@5": 1.0 if answerable else None,
        }
        return {"scores": scores, "refused": refused, "answerable": answerable, "latency_ms": 5.0}

    out = m.aggregate([record(3, 3, False, True), record(0, 1, False, True), record(0, 0, False, False)])
    assert out["citation_validity"] == 0.75
    assert out["recall@5"] == 1.0
    assert out["refusal_precision"] is None
    assert out["refusal_recall"] == 0.0
    assert out["latency_p50_ms"] == 5.0


def test_the_worst_items_list_shows_only_our_tune_items():
    def record(system: str, split: str, quality: float, item_id: str) -> dict[str, Any]:
        return {"system": system, "split": split, "quality": quality, "scores": {}, "id": item_id}

    records = [
        record("ours", "heldout", 0.0, "h"),
        record("ours", "tune", 0.5, "t"),
        record("baseline", "tune", 0.0, "b"),
    ]
    assert [r["id"] for r in worst_items(records)] == ["t"]


# --- dataset ---------------------------------------------------------------------------------------------


def test_the_public_set_loads_and_about_30_percent_is_held_out():
    items = load_dataset(PUBLIC)
    assert len(items) >= 100
    share = sum(1 for i in items if i.split == "heldout") / len(items)
    assert 0.2 <= share <= 0.4


def test_the_split_depends_only_on_the_id():
    assert split_of("start-001") == split_of("start-001")
    assert {split_of(f"x-{i}") for i in range(50)} == {"tune", "heldout"}


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("{not json", "2 行目が JSON として読めません"),
        ("[1, 2]", "2 行目が JSON オブジェクトではありません"),
        (json.dumps({k: v for k, v in ITEM.items() if k != "answerable"}), "2 行目.*answerable がありません"),
        (line(extra="x"), "2 行目.*extra はスキーマにありません"),
        (line(answerable="yes"), "2 行目.*answerable の値が不正です"),
        (line(category="weather"), "2 行目.*category の値が不正です"),
        (line(id="fact-001"), "2 行目: id fact-001 が 1 行目と重複しています"),
    ],
)
def test_a_bad_line_is_reported_with_its_line_number(bad: str, match: str):
    with pytest.raises(DatasetError, match=match):
        parse_items([line(id="fact-001"), bad], source="x.jsonl")


def test_an_empty_or_missing_dataset_is_an_error(tmp_path: Path):
    with pytest.raises(DatasetError, match="項目が1つもありません"):
        parse_items(["", "  "])
    with pytest.raises(DatasetError, match="評価データが見つかりません"):
        load_dataset(tmp_path / "nope.jsonl")


# --- thresholds, compare, judge -----------------------------------------------------------------------------


def test_the_bundled_thresholds_require_exact_citation_validity():
    limits = load_thresholds(DEFAULT_THRESHOLDS)
    assert limits.minimum["citation_validity"] == 1.0
    assert limits.system == "ours" and limits.split == "all"


def test_unknown_metrics_and_out_of_range_bounds_are_rejected(tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_text("min:\n  recall@50: 0.9\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="指標 recall@50 はありません。使える指標: "):
        load_thresholds(path)
    path.write_text("min:\n  recall@5: 95\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="0〜1 の割合です"):
        load_thresholds(path)


def _metrics(**overall: float | None) -> dict[str, Any]:
    base = {
        "n": 10,
        "recall@5": 0.9,
        "mrr@10": 0.8,
        "citation_validity": 1.0,
        "latency_p95_ms": 50.0,
        **overall,
    }
    block = {"overall": base, "by_category": {"fact": dict(base)}}
    return {
        "created": "x",
        "dataset": "d",
        "items": 10,
        "systems": {"ours": {s: block for s in ("tune", "heldout", "all")}},
    }


def test_check_lists_every_missed_bound(tmp_path: Path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "min:\n  recall@5: 0.95\n  citation_validity: 1.0\nmax:\n  latency_p95_ms: 100\n", encoding="utf-8"
    )
    failures = check(_metrics(refusal_recall=None), load_thresholds(path))
    assert [f.metric for f in failures] == ["recall@5"]
    assert "基準 ≥ 0.95" in failures[0].message


def test_compare_flags_a_score_that_dropped_beyond_the_tolerance():
    deltas = compare_metrics(_metrics(), _metrics(**{"recall@5": 0.85, "mrr@10": 0.795}), tolerance=0.01)
    flagged = {(d.split, d.metric) for d in deltas if d.regression}
    assert flagged == {("tune", "recall@5"), ("heldout", "recall@5"), ("all", "recall@5")}
    assert is_regression("latency_p95_ms", 50.0, 80.0, 0.01, 0.2)
    assert not is_regression("latency_p95_ms", 50.0, 55.0, 0.01, 0.2)
    assert is_regression("recall@5", 0.9, None, 0.01, 0.2)


def test_parse_score_takes_the_first_number_between_0_and_1():
    assert parse_score("0.75") == 0.75
    assert parse_score("点数: 1.0（すべて裏付けあり）") == 1.0
    assert parse_score("０．５") == 0.5
    assert parse_score("わかりません") is None


def test_the_judge_is_off_without_an_llm_backend(settings):
    assert make_judge(settings) is None
    with pytest.raises(ValueError, match="backend"):
        Judge(None)


def test_the_judge_scores_answered_items_through_the_configured_backend(settings):
    from tests.llm_stub import StubLLMServer

    with StubLLMServer() as stub:
        stub.script("0.9", "0.6")
        llm = settings.model_copy(
            update={"llm_backend": "openai", "llm_base_url": stub.openai_base_url, "llm_model": "stub-model"}
        )
        judge = make_judge(llm)
        assert judge is not None
        record = {
            "refused": False, "answerable": True, "error": None, "question": "DX認定とは？",
            "answer": "DX認定制度があります。[1]", "citations": [{"quote": "DX認定制度"}], "scores": {},
        }  # fmt: skip
        judge.score_records([record], progress=False)
        assert record["scores"] == {"faithfulness": 0.9, "answer_relevancy": 0.6}
        prompt = stub.chat_requests()[0].messages()
        assert "<quotes>" in prompt[-1]["content"] and "採点" in prompt[0]["content"]


# --- end to end --------------------------------------------------------------------------------------------


def tiny_dataset(path: Path) -> Path:
    """One public item of each category, plus an out-of-scope question with markup to check escaping."""
    picked: dict[str, str] = {}
    for raw in PUBLIC.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            picked.setdefault(json.loads(raw)["category"], raw)
    markup = {
        "id": "oos-900", "category": "out_of_scope", "question": "<script>alert(1)</script> 今日の天気は？",
        "gold_evidence": [], "key_facts": [], "expected_agency": None, "answerable": False,
    }  # fmt: skip
    lines = [*picked.values(), json.dumps(markup, ensure_ascii=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first part of the bundled corpus: keeps the baseline's embedding step short in tests."""
    text = (PUBLIC.parent.parent.parent / "corpus" / "meti-dx-policy-overview.txt").read_text(
        encoding="utf-8"
    )
    folder = tmp_path_factory.mktemp("small-corpus")
    (folder / "overview-part.txt").write_text(text[:2500], encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def advisor(built_index) -> Advisor:
    """The real advisor over the session's index (it embeds every sentence on load: build it once here)."""
    settings, index = built_index
    return Advisor(settings, index)


@pytest.fixture(scope="module")
def eval_run(
    built_index, advisor: Advisor, small_corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> EvalRun:
    settings, _ = built_index
    root = tmp_path_factory.mktemp("eval")
    # The advisor answers from the whole bundled corpus; the baseline is built from a small part of it.
    baseline_settings = settings.model_copy(update={"corpus_dir": small_corpus, "data_dir": root / "data"})
    return run_eval(
        baseline_settings,
        tiny_dataset(root / "tiny.jsonl"),
        root / "out",
        baseline=True,
        progress=False,
        advisor=advisor,
    )


@pytest.mark.slow
def test_the_runner_writes_every_file_of_a_run(eval_run: EvalRun):
    names = {p.name for p in eval_run.run_dir.iterdir()}
    assert {"metrics.json", "results.jsonl", "report.md", "report.html"} <= names
    records = [
        json.loads(x) for x in (eval_run.run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(records) == 2 * 7
    assert {r["system"] for r in records} == {"ours", "baseline"}
    first = records[0]
    for key in (
        "question",
        "answer",
        "refused",
        "intent",
        "agencies",
        "retrieved",
        "citations",
        "scores",
        "latency_ms",
    ):
        assert key in first
    metrics = json.loads((eval_run.run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["systems"]) == {"ours", "baseline"}
    assert set(metrics["systems"]["ours"]) == {"tune", "heldout", "all"}
    assert set(metrics["systems"]["ours"]["all"]["by_category"]) == {
        "start", "agency", "clause", "fact", "region", "out_of_scope"
    }  # fmt: skip


@pytest.mark.slow
def test_every_quote_of_the_advisor_and_the_baseline_is_verbatim_in_the_corpus(eval_run: EvalRun):
    for system in ("ours", "baseline"):
        assert eval_run.metrics["systems"][system]["all"]["overall"]["citation_validity"] == 1.0
    assert all(not r["invalid_quotes"] for r in eval_run.records)


@pytest.mark.slow
def test_the_baseline_never_refuses_and_recommends_no_agency(eval_run: EvalRun):
    baseline = [r for r in eval_run.records if r["system"] == "baseline"]
    assert not any(r["refused"] for r in baseline)
    assert all(r["agencies"] == [] and len(r["retrieved"]) == 5 for r in baseline)
    overall = eval_run.metrics["systems"]["baseline"]["all"]["overall"]
    assert overall["refusal_recall"] == 0.0 and overall["refusal_precision"] is None


@pytest.mark.slow
def test_the_html_report_is_self_contained_with_charts_tables_and_escaped_text(eval_run: EvalRun):
    page = (eval_run.run_dir / "report.html").read_text(encoding="utf-8")
    assert '<img alt="Recall@5（カテゴリ別）" src="data:image/png;base64,' in page
    assert page.count("data:image/png;base64,") == 3
    assert "<table>" in page and "主要指標" in page and "カテゴリ別" in page and "不正解の多い10問" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src="http' not in page and "<link" not in page and "<script" not in page
    md = (eval_run.run_dir / "report.md").read_text(encoding="utf-8")
    assert "| 指標 | tune: DXナビ | tune: ベースライン |" in md


@pytest.mark.slow
def test_compare_of_a_run_with_itself_finds_no_regression(eval_run: EvalRun):
    deltas, path = compare_runs(eval_run.run_dir, eval_run.run_dir)
    assert not [d for d in deltas if d.regression]
    assert path.read_text(encoding="utf-8").startswith("# DXナビ 評価の比較")


def _use_index(built_index, advisor: Advisor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the session index, and hand it the advisor already loaded over that index."""
    settings, _ = built_index
    monkeypatch.setenv("DXNAVI_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DXNAVI_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setattr(Advisor, "from_settings", classmethod(lambda cls, s: advisor))


@pytest.mark.slow
def test_eval_exits_non_zero_and_names_the_metric_when_a_threshold_is_missed(
    built_index, advisor: Advisor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _use_index(built_index, advisor, monkeypatch)
    strict = tmp_path / "strict.yaml"
    strict.write_text("min:\n  citation_validity: 1.0\nmax:\n  answer_chars: 1\n", encoding="utf-8")
    args = [
        "eval",
        "--dataset",
        str(tiny_dataset(tmp_path / "tiny.jsonl")),
        "--out",
        str(tmp_path / "out"),
        "-q",
    ]
    result = CliRunner().invoke(app, [*args, "--thresholds", str(strict)])
    assert result.exit_code == 1, result.output
    assert "しきい値を満たしていません" in result.output
    assert "回答の長さ（文字）" in result.output and "citation_validity" not in result.output
    assert "評価結果（7 問、各欄 DXナビ）" in result.output
    ok = tmp_path / "ok.yaml"
    ok.write_text("min:\n  citation_validity: 1.0\n", encoding="utf-8")
    result = CliRunner().invoke(app, [*args, "--thresholds", str(ok)])
    assert result.exit_code == 0, result.output
    assert "しきい値をすべて満たしました" in result.output
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_eval_compare_writes_the_deltas_and_fails_on_a_regression(tmp_path: Path):
    old, new = tmp_path / "old", tmp_path / "new"
    for folder, data in ((old, _metrics()), (new, _metrics(**{"recall@5": 0.7}))):
        folder.mkdir()
        (folder / "metrics.json").write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "--compare", str(old), str(new)])
    assert result.exit_code == 1, result.output
    assert "悪化" in result.output and "Recall@5" in result.output
    report = (new / "compare.md").read_text(encoding="utf-8")
    assert "## 悪化（3 件）" in report and "0.900 → 0.700" in report
    result = CliRunner().invoke(app, ["eval", "--compare", str(old), str(old)])
    assert result.exit_code == 0, result.output
    assert "悪化した指標はありません" in result.output


def test_eval_compare_of_a_folder_without_metrics_is_a_japanese_error(tmp_path: Path):
    result = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2
    assert "metrics.json がありません" in result.output


# ---- answer-quality metrics for issue 9: grounding, unused citations, repetition, conversations -------
def test_grounding_counts_supported_sentences_and_unused_citations() -> None:
    from evals.metrics import grounding

    quote = "設備投資等に必要な資金について、基準利率(1.95%)よりも低い特別利率2(1.30%)で融資が受けられます。"
    answer = (
        "特別利率2(1.30%)で融資が受けられます。[1]\n"
        "特別利率(1.20%)で融資が受けられます。[1]\n\n"
        "### 参考資料\n- [1] 資料 [2] 資料"
    )
    grounded, checked, unused = grounding(answer, {1: quote, 2: quote})
    assert (grounded, checked, unused) == (1, 2, 1)


def test_repetition_is_the_share_of_answers_holding_the_most_common_sentence() -> None:
    from evals.metrics import repetition

    same = "身の回りの業務のデジタル化から始めましょう。"
    answers = [same + "ほかの文その一です。", same + "ほかの文その二です。", "まったく別の回答の文です。"]
    assert repetition(answers) == pytest.approx(2 / 3)
    assert repetition([]) is None


def test_same_answer_means_nearly_all_sentences_shared() -> None:
    from evals.conversations import same_answer

    a = "一つ目の文です。[1]二つ目の文です。[2]三つ目の文です。[3]"
    assert same_answer(a, a.replace("[3]", "[4]"))
    assert not same_answer(a, "一つ目の文です。[1]まったく違う内容の文です。[2]")


def test_bundled_conversation_set_is_valid_and_its_key_facts_are_in_the_corpus() -> None:
    from evals.conversations import DEFAULT_CONVERSATIONS, load_conversations
    from ground.config import PROJECT_ROOT
    from ingest.normalize import compact

    corpus = compact((PROJECT_ROOT / "corpus" / "meti-dx-policy-overview.txt").read_text(encoding="utf-8"))
    conversations = load_conversations(DEFAULT_CONVERSATIONS)
    assert len(conversations) >= 30
    for conv in conversations:
        assert 2 <= len(conv.turns) <= 4, conv.id
        assert all(t.must_differ for t in conv.turns[1:]), conv.id
        for turn in conv.turns:
            assert all(compact(f) in corpus for f in turn.key_facts), (conv.id, turn.key_facts)


def test_conversation_summary_scores_follow_ups_only() -> None:
    from evals.conversations import summarize_conversations

    def record(turn: int, kf: float | None, differs: bool | None) -> dict:
        return {
            "conversation": "c",
            "turn": turn,
            "key_fact_coverage": kf,
            "agency_top1": None,
            "differs": differs,
            "refused": False,
            "answerable": True,
            "stage_ok": None,
            "grounded_sentences": 2,
            "checked_sentences": 2,
            "unused_citations": 0,
        }

    summary = summarize_conversations([record(0, 0.0, None), record(1, 1.0, True), record(2, 0.5, False)])
    assert summary["followup_key_fact_coverage"] == pytest.approx(0.75)
    assert summary["followup_differs"] == pytest.approx(0.5)
    assert summary["conversation_grounded_rate"] == 1.0


def test_card_choice_is_scored_against_the_labels_turn_by_turn(
    built_index: BuiltIndex, tmp_path: Path
) -> None:
    from evals.cards import DEFAULT_LABELS, Label, load_labels, score
    from tests.servers import shared_advisor

    conversations = tmp_path / "set.jsonl"
    conversations.write_text(
        json.dumps(
            {"id": "t-001", "messages": ["DXってそもそも何？", "セキュリティは何から？"]},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    labels = {
        ("t-001", 1): Label("dx-what"),
        ("t-001", 2): Label("dx-index-how", frozenset({"security"})),
    }
    first, follow = score(labels, (conversations,), shared_advisor(built_index))
    assert (first.turns, first.best, first.acceptable) == (1, 1, 1)
    # The follow-up got an acceptable card, not the best one.
    assert (follow.turns, follow.best, follow.acceptable, follow.misses) == (1, 0, 1, [])
    # Every shipped label names a card that exists (or none), for a turn that exists.
    from bot.cards import cards
    from evals.cards import DEFAULT_SETS

    known = {c.id for c in cards()} | {"none"}
    turns = {
        (item["id"], turn)
        for path in DEFAULT_SETS
        for item in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        for turn in range(1, len(item["messages"]) + 1)
    }
    shipped = load_labels(DEFAULT_LABELS)
    assert set(shipped) == turns
    assert all(label.best in known and label.ok <= known for label in shipped.values())


def test_labelled_opening_messages_vote_for_their_card(built_index: BuiltIndex) -> None:
    from bot.cards import AskedBefore
    from bot.counsel import NEIGHBOUR_WEIGHT, NEIGHBOURS, CardIndex
    from bot.question import is_supporter
    from tests.servers import shared_advisor

    advisor = shared_advisor(built_index)
    message = (
        "福岡で個別指導の塾を2教室やっています。成績は講師がExcelに入れています。"
        "せっかく成績のデータがあるので、もっと活かせないかと思っていますが、どう考えたらいいですか？"
    )
    vector = advisor.index.embed_query(message)

    def scores(asked: list[AskedBefore], opening: bool, text: str = message) -> dict[str, float]:
        deck = CardIndex(
            advisor.cards._vectors_of,
            advisor.cards.idf,
            focus=advisor.cards.focus,
            asked=asked,
            supporter=is_supporter,
        )
        return {h.card.id: h.score for h in deck.rank(text, vector, n=len(deck.cards), opening=opening)}

    alone = scores([], opening=True)
    voted = scores([AskedBefore(text=message, card="data-use", also=["start-stage4"])], opening=True)
    # The one labelled message (cosine 1 with itself) is one of NEIGHBOURS: its card gets its share, the card
    # that would also do ALSO_VOTE of it, the others nothing.
    share = NEIGHBOUR_WEIGHT / NEIGHBOURS
    assert voted["data-use"] - alone["data-use"] == pytest.approx(share, abs=1e-4)
    assert voted["start-stage4"] - alone["start-stage4"] == pytest.approx(share * 0.5, abs=1e-4)
    assert voted["security"] == pytest.approx(alone["security"], abs=1e-6)
    # A follow-up's subject is in the turns before it: no vote; nor from a message no card answers.
    assert scores([AskedBefore(text=message, card="data-use")], opening=False) == scores([], opening=False)
    assert scores([AskedBefore(text=message, card="none")], opening=True) == alone
    # Support staff ask precise questions the cards' own examples match (「CISOの記載はどの柱？」): no votes.
    staff = "商工会議所の経営指導員です。" + message
    assert scores([AskedBefore(text=staff, card="data-use")], opening=True, text=staff) == scores(
        [], opening=True, text=staff
    )


def test_shipped_neighbours_are_the_labelled_opening_messages() -> None:
    from bot.cards import asked_before
    from evals.cards import DEFAULT_LABELS, first_messages, load_labels

    expected = first_messages(load_labels(DEFAULT_LABELS))
    assert len(expected) >= 200
    # (`python -m evals.cards --export` writes them; a label changed without exporting fails here)
    assert list(asked_before()) == expected
