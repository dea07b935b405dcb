"""Eval metrics as plain functions: retrieval ranks, answer checks, refusals, and their aggregation.

Every text comparison uses `compact()` (NFKC, all whitespace removed) so PDF line breaks never matter.
Recall@k is the hit rate: the share of items with at least one relevant chunk in the top k.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ingest.normalize import compact

RANKS = (1, 3, 5, 10)
RETRIEVAL_METRICS = ("recall@1", "recall@3", "recall@5", "recall@10", "mrr@10", "ndcg@10")
ANSWER_METRICS = (
    "key_fact_coverage",
    "citation_validity",
    "citation_support",
    "agency_top1",
    "grounded_sentence_rate",
    "unused_citations",
    "repetition",
)
REFUSAL_METRICS = ("refusal_precision", "refusal_recall")
OTHER_METRICS = ("answer_chars", "latency_p50_ms", "latency_p95_ms")
# From the multi-turn set (evals/conversations.py); reported under the "all" split only.
CONVERSATION_METRICS = (
    "followup_key_fact_coverage",
    "followup_differs",
    "followup_agency_top1",
    "conversation_refusal_accuracy",
    "stage_accuracy",
)
JUDGE_METRICS = ("faithfulness", "answer_relevancy")
HEADLINE = (*RETRIEVAL_METRICS, *ANSWER_METRICS, *REFUSAL_METRICS, *CONVERSATION_METRICS, *OTHER_METRICS)
# Metrics where a smaller value is better (used by --compare).
LOWER_IS_BETTER = frozenset({"latency_p50_ms", "latency_p95_ms", "unused_citations", "repetition"})
# Separates texts in a haystack; never inside a compacted text, so no quote can span two texts.
_SEP = "\x00"


# --- retrieval --------------------------------------------------------------------------------------


def relevant(chunk_text: str, gold_evidence: Sequence[str]) -> bool:
    """A chunk is relevant when it contains any gold span (after compact())."""
    text = compact(chunk_text)
    return any(span_ and span_ in text for span_ in (compact(g) for g in gold_evidence))


def relevance(texts: Iterable[str], gold_evidence: Sequence[str]) -> list[bool]:
    """Binary relevance of each retrieved text, in rank order."""
    return [relevant(t, gold_evidence) for t in texts]


def recall_at_k(rels: Sequence[bool], k: int) -> float:
    """1.0 when any of the top k is relevant, else 0.0 (hit rate; averaged over items it is Recall@k)."""
    return 1.0 if any(rels[:k]) else 0.0


def mrr_at_k(rels: Sequence[bool], k: int = 10) -> float:
    """Reciprocal rank of the first relevant item within the top k, 0.0 when there is none."""
    for rank, rel in enumerate(rels[:k], start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(rels: Sequence[bool], k: int = 10, n_relevant: int | None = None) -> float:
    """Binary nDCG@k. `n_relevant` is how many relevant chunks exist in the whole index (ideal ranking);
    when unknown, the relevant ones among the retrieved are taken as all there are."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, rel in enumerate(rels[:k], start=1) if rel)
    total = sum(1 for r in rels if r) if n_relevant is None else max(n_relevant, sum(1 for r in rels if r))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(total, k) + 1))
    return dcg / ideal if ideal else 0.0


def count_relevant(pool: Iterable[str], gold_evidence: Sequence[str]) -> int:
    """How many texts of an index's chunk pool are relevant to the gold spans."""
    return sum(1 for text in pool if relevant(text, gold_evidence))


# --- answers ------------------------------------------------------------------------------------------


def key_fact_coverage(answer: str, key_facts: Sequence[str]) -> float | None:
    """Share of key facts found in the answer; None when the item lists none."""
    if not key_facts:
        return None
    text = compact(answer)
    return sum(1 for fact in key_facts if compact(fact) in text) / len(key_facts)


def corpus_haystack(texts: Iterable[str]) -> str:
    """All corpus texts (chunk texts and file pages) compacted into one searchable string."""
    return _SEP.join(compact(t) for t in texts)


def quote_is_valid(quote: str, haystack: str) -> bool:
    """True when the quote appears verbatim (after compact()) in the corpus haystack."""
    needle = compact(quote)
    return bool(needle) and needle in haystack


def citation_validity(quotes: Sequence[str], haystack: str) -> tuple[int, int]:
    """(valid quotes, all quotes) for one answer."""
    return sum(1 for q in quotes if quote_is_valid(q, haystack)), len(quotes)


def citation_support(quotes: Sequence[str], gold_evidence: Sequence[str]) -> float | None:
    """1.0 when any cited quote contains a gold span; None for items without gold evidence."""
    if not gold_evidence:
        return None
    golds = [compact(g) for g in gold_evidence if compact(g)]
    for quote in quotes:
        q = compact(quote)
        if any(g in q for g in golds):
            return 1.0
    return 0.0


def agency_top1(agency_names: Sequence[str], expected: str | None) -> float | None:
    """1.0 when the first recommended agency's name contains the expected word; None when none expected."""
    if not expected:
        return None
    return 1.0 if agency_names and compact(expected) in compact(agency_names[0]) else 0.0


def grounding(answer: str, quotes: Mapping[int, str]) -> tuple[int, int, int]:
    """(grounded sentences, cited sentences, unused citations) of one answer.

    Every sentence that carries a `[n]` marker is checked against the quotes it cites (verbatim inside
    one, or every content word and number found in them: `bot.grounding`); a citation is unused when no
    marker of the answer body points to it.
    """
    from bot.grounding import check_answer
    from bot.sources import answer_body

    body = answer_body(answer)
    checks = check_answer(body, quotes)
    used = {n for c in checks for n in c.markers}
    return sum(1 for c in checks if c.grounded), len(checks), sum(1 for n in quotes if n not in used)


def answer_sentences(answer: str) -> set[str]:
    """The distinct sentences of an answer body, markers and list marks removed (for repetition)."""
    from bot.sources import answer_body
    from bot.verify import split_sentences, strip_markers

    out = set()
    for line in answer_body(answer).splitlines():
        line = line.strip().lstrip("-*・ ").strip()
        if not line or line.startswith("#") or line.endswith((":", "：")):
            continue  # headings and labels such as 「相談で話し合うこと:」 are not sentences
        for sentence in split_sentences(line):
            text = compact(strip_markers(sentence))
            if len(text) >= 8:
                out.add(text)
    return out


def repetition(answers: Sequence[str]) -> float | None:
    """Share of answers that contain the single most common sentence (distinct questions only)."""
    if not answers:
        return None
    counts: dict[str, int] = {}
    for answer in answers:
        for sentence in answer_sentences(answer):
            counts[sentence] = counts.get(sentence, 0) + 1
    return max(counts.values(), default=0) / len(answers)


def refusal_precision_recall(pairs: Iterable[tuple[bool, bool]]) -> tuple[float | None, float | None]:
    """Precision and recall of refusing, from (refused, answerable) pairs; 'refused' is the positive class.
    None where undefined (nothing refused / nothing to refuse)."""
    tp = fp = fn = 0
    for refused, answerable in pairs:
        if refused and not answerable:
            tp += 1
        elif refused and answerable:
            fp += 1
        elif not refused and not answerable:
            fn += 1
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return precision, recall


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# --- per item and aggregates ------------------------------------------------------------------------------


def score_item(
    *,
    retrieved_texts: Sequence[str],
    answer: str,
    quotes: Sequence[str],
    agency_names: Sequence[str],
    gold_evidence: Sequence[str],
    key_facts: Sequence[str],
    expected_agency: str | None,
    answerable: bool,
    haystack: str,
    n_relevant: int | None = None,
    cited: Mapping[int, str] | None = None,
) -> dict[str, float | None]:
    """Every per-item score. Retrieval scores are None for items without gold evidence (out of scope)."""
    scores: dict[str, float | None] = {}
    with_gold = answerable and bool(gold_evidence)
    rels = relevance(retrieved_texts, gold_evidence) if with_gold else []
    for k in RANKS:
        scores[f"recall@{k}"] = recall_at_k(rels, k) if with_gold else None
    scores["mrr@10"] = mrr_at_k(rels, 10) if with_gold else None
    scores["ndcg@10"] = ndcg_at_k(rels, 10, n_relevant) if with_gold else None
    scores["first_relevant_rank"] = (
        next((i for i, r in enumerate(rels, start=1) if r), None) if with_gold else None
    )
    scores["key_fact_coverage"] = key_fact_coverage(answer, key_facts) if answerable else None
    valid, total = citation_validity(quotes, haystack)
    scores["citation_quotes"] = float(total)
    scores["citation_valid_quotes"] = float(valid)
    scores["citation_support"] = citation_support(quotes, gold_evidence) if with_gold else None
    scores["agency_top1"] = agency_top1(agency_names, expected_agency) if answerable else None
    scores["answer_chars"] = float(len(answer))
    if cited is not None:
        grounded, checked, unused = grounding(answer, cited)
        scores["grounded_sentences"] = float(grounded)
        scores["checked_sentences"] = float(checked)
        scores["unused_citations"] = float(unused)
    return scores


def item_quality(record: Mapping[str, Any]) -> float:
    """One number per item for finding the worst ones: refusal correctness, else the mean of its scores."""
    if not record["answerable"]:
        return 1.0 if record["refused"] else 0.0
    scores = record["scores"]
    parts = [
        scores.get(m) for m in ("recall@5", "mrr@10", "key_fact_coverage", "citation_support", "agency_top1")
    ]
    present = [p for p in parts if p is not None]
    value = sum(present) / len(present) if present else 1.0
    return 0.0 if record.get("error") else value


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def aggregate(records: Sequence[Mapping[str, Any]]) -> dict[str, float | int | None]:
    """Metrics over a group of per-item records (mean of per-item scores; micro-average for citations)."""
    out: dict[str, float | int | None] = {"n": len(records)}
    for name in (*RETRIEVAL_METRICS, "key_fact_coverage", "citation_support", "agency_top1"):
        out[name] = _mean(r["scores"].get(name) for r in records)
    quotes = sum(r["scores"].get("citation_quotes") or 0 for r in records)
    valid = sum(r["scores"].get("citation_valid_quotes") or 0 for r in records)
    out["citation_validity"] = valid / quotes if quotes else None
    out["refusal_precision"], out["refusal_recall"] = refusal_precision_recall(
        (bool(r["refused"]), bool(r["answerable"])) for r in records
    )
    out["answer_chars"] = _mean(r["scores"].get("answer_chars") for r in records)
    checked = sum(r["scores"].get("checked_sentences") or 0 for r in records)
    grounded = sum(r["scores"].get("grounded_sentences") or 0 for r in records)
    out["grounded_sentence_rate"] = grounded / checked if checked else None
    out["unused_citations"] = sum(int(r["scores"].get("unused_citations") or 0) for r in records)
    answered = {r["question"]: r["answer"] for r in records if not r["refused"] and r.get("answer")}
    out["repetition"] = repetition(list(answered.values()))
    latencies = [float(r["latency_ms"]) for r in records if r.get("latency_ms") is not None]
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    for name in JUDGE_METRICS:
        value = _mean(r["scores"].get(name) for r in records)
        if value is not None:
            out[name] = value
    out["errors"] = sum(1 for r in records if r.get("error"))
    return out


def summarize(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """{split: {"overall": metrics, "by_category": {category: metrics}}} for tune, heldout and all."""
    out: dict[str, dict[str, Any]] = {}
    for split in ("tune", "heldout", "all"):
        group = [r for r in records if split == "all" or r["split"] == split]
        categories = sorted({r["category"] for r in group}, key=_category_order)
        out[split] = {
            "overall": aggregate(group),
            "by_category": {c: aggregate([r for r in group if r["category"] == c]) for c in categories},
        }
    return out


def _category_order(category: str) -> int:
    from evals.dataset import CATEGORIES

    return CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)
