"""Run a gold set through the same Advisor the CLI and API use (and optionally the naive baseline),
score every item and write metrics.json, results.jsonl, report.md and report.html to a timestamped folder."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.schemas import ChatResponse, Message
from evals import metrics as m
from evals.dataset import EvalItem, load_dataset
from ground.errors import DxnaviError, LoadError

if TYPE_CHECKING:
    from bot.advisor import Advisor
    from evals.judge import Judge
    from ground.config import Settings

log = logging.getLogger(__name__)

SYSTEMS = ("ours", "baseline")


@dataclass
class EvalRun:
    run_dir: Path
    metrics: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)


def ensure_index(settings: Settings, progress: bool = True) -> None:
    """Ingest the corpus first when the index is missing or stale (as `dxnavi run` does)."""
    from ingest.embed import embedder_from_settings
    from ingest.pipeline import is_up_to_date, run_ingest

    if not is_up_to_date(settings):
        log.info("index missing or stale: ingesting %s", settings.corpus_dir)
        run_ingest(settings, lambda: embedder_from_settings(settings), [], False, progress)


def corpus_texts(advisor: Advisor) -> list[str]:
    """What a citation may quote: the indexed chunk texts and the raw pages of the indexed files."""
    from ingest.load import load_document

    texts = [c.text for c in advisor.index.chunks]
    for record in advisor.index.meta.files:
        try:
            texts.extend(p.text for p in load_document(Path(record.path)).pages)
        except LoadError as exc:
            log.warning("cannot re-read %s for citation checks: %s", record.path, exc.message)
    return texts


def response_quotes(response: ChatResponse) -> list[str]:
    """Every quote shown to the user: answer citations, agencies' citations and the stage's citations."""
    quotes = [c.quote for c in response.citations]
    for agency in response.agencies:
        quotes.extend(c.quote for c in agency.citations)
    if response.stage is not None:
        quotes.extend(c.quote for c in response.stage.citations)
    return quotes


def make_record(
    system: str,
    item: EvalItem,
    response: ChatResponse | None,
    latency_ms: float,
    haystack: str,
    pool: Sequence[str],
    error: str | None = None,
) -> dict[str, Any]:
    """One results.jsonl line: what the system answered and every per-item score."""
    if response is None:
        response = ChatResponse(message_id="", answer="", intent="out_of_scope")
    quotes = response_quotes(response)
    agency_names = [a.name for a in response.agencies]
    n_relevant = (
        m.count_relevant(pool, item.gold_evidence) if item.answerable and item.gold_evidence else None
    )
    scores = m.score_item(
        retrieved_texts=[r.text for r in response.retrieved],
        answer=response.answer,
        quotes=quotes,
        agency_names=agency_names,
        gold_evidence=item.gold_evidence,
        key_facts=item.key_facts,
        expected_agency=item.expected_agency,
        answerable=item.answerable,
        haystack=haystack,
        n_relevant=n_relevant,
        cited={c.n: c.quote for c in response.citations},
    )
    scores["n_relevant_in_index"] = float(n_relevant) if n_relevant is not None else None
    record: dict[str, Any] = {
        "system": system,
        "id": item.id,
        "category": item.category,
        "split": item.split,
        "question": item.question,
        "answerable": item.answerable,
        "gold_evidence": item.gold_evidence,
        "key_facts": item.key_facts,
        "expected_agency": item.expected_agency,
        "answer": response.answer,
        "refused": response.refused,
        "intent": response.intent if system == "ours" else None,
        "mode": response.mode,
        "agencies": agency_names[:3],
        "retrieved": [r.chunk_id for r in response.retrieved],
        "citations": [
            {
                "n": c.n,
                "chunk_id": c.chunk_id,
                "page": c.page,
                "quote": c.quote,
                "valid": m.quote_is_valid(c.quote, haystack),
            }
            for c in response.citations
        ],
        "invalid_quotes": [q for q in quotes if not m.quote_is_valid(q, haystack)],
        "latency_ms": round(latency_ms, 3),
        "error": error,
        "scores": scores,
    }
    record["quality"] = m.item_quality(record)
    return record


def _timed(call: Callable[[], ChatResponse]) -> tuple[ChatResponse | None, float, str | None]:
    started = time.perf_counter()
    try:
        response = call()
    except DxnaviError as exc:
        log.warning("eval item failed: %s", exc.message)
        return None, (time.perf_counter() - started) * 1000, exc.message
    return response, (time.perf_counter() - started) * 1000, None


def run_items(
    system: str,
    items: Sequence[EvalItem],
    ask: Callable[[str], ChatResponse],
    haystack: str,
    pool: Sequence[str],
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Ask every question through `ask` (one user message each) and score the answers."""
    from tqdm import tqdm

    records = []
    for item in tqdm(items, desc=f"評価 {system}", unit="問", disable=not progress):
        response, latency, error = _timed(lambda item=item: ask(item.question))  # type: ignore[misc]
        records.append(make_record(system, item, response, latency, haystack, pool, error))
    return records


def new_run_dir(out_dir: Path) -> Path:
    """out_dir/<YYYYmmdd-HHMMSS>, with a suffix when two runs start in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out_dir / stamp
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = out_dir / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


def run_eval(
    settings: Settings,
    dataset: Path,
    out_dir: Path,
    *,
    baseline: bool = False,
    judge: bool | None = None,
    progress: bool = True,
    advisor: Advisor | None = None,
    conversations: Path | None = None,
) -> EvalRun:
    """Evaluate the advisor (and the baseline) on a dataset; `judge=None` judges when an LLM is configured."""
    items = load_dataset(dataset)
    if advisor is None:
        from bot.advisor import Advisor

        ensure_index(settings, progress)
        advisor = Advisor.from_settings(settings)
    texts = corpus_texts(advisor)
    haystack = m.corpus_haystack(texts)
    started = time.perf_counter()
    records = run_items(
        "ours",
        items,
        lambda q: advisor.ask([Message(role="user", content=q)]),
        haystack,
        [c.text for c in advisor.index.chunks],
        progress,
    )
    if baseline:
        from evals.baseline import NaiveBaseline

        cache = settings.data_dir / "evals" / ".cache" / "baseline-embeddings.npz"
        naive = NaiveBaseline.build(settings, advisor.index.embedder, cache)
        records += run_items("baseline", items, naive.ask, haystack, naive.texts, progress)
    judged = _judge(settings, advisor, records, judge, progress)
    turns: list[dict[str, Any]] = []
    if conversations is not None:
        from evals.conversations import load_conversations, run_conversations, summarize_conversations

        turns = run_conversations(load_conversations(conversations), advisor.ask)
    seconds = time.perf_counter() - started

    metrics: dict[str, Any] = {
        "created": datetime.now().isoformat(timespec="seconds"),
        "dataset": str(Path(dataset).resolve()),
        "items": len(items),
        "splits": {s: sum(1 for i in items if i.split == s) for s in ("tune", "heldout")},
        "seconds": round(seconds, 1),
        "judge": judged,
        "config": {
            "embedding_engine": settings.embedding_engine,
            "embedding_model": settings.embedding_model,
            "llm_backend": settings.llm_backend,
            "retrieve_k": settings.retrieve_k,
            "rrf_k": settings.rrf_k,
            "bm25_weight": settings.bm25_weight,
            "dense_weight": settings.dense_weight,
            "chunk_target_tokens": settings.chunk_target_tokens,
            "chunk_max_tokens": settings.chunk_max_tokens,
            "index_build": advisor.index.meta.build_id,
        },
        "systems": {
            system: m.summarize([r for r in records if r["system"] == system])
            for system in SYSTEMS
            if any(r["system"] == system for r in records)
        },
    }
    if turns:
        summary = summarize_conversations(turns)
        metrics["conversations"] = {"dataset": str(Path(conversations or "").resolve()), **summary}
        metrics["systems"]["ours"]["all"]["overall"].update(summary)
    run_dir = new_run_dir(Path(out_dir))
    write_run(run_dir, metrics, records)
    if turns:
        with (run_dir / "conversations.jsonl").open("w", encoding="utf-8") as fh:
            for turn in turns:
                fh.write(json.dumps(turn, ensure_ascii=False) + "\n")
    return EvalRun(run_dir, metrics, records)


def write_run(run_dir: Path, metrics: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """metrics.json, results.jsonl, report.md and report.html."""
    from evals.report import write_reports

    (run_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), encoding="utf-8")
    with (run_dir / "results.jsonl").open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    write_reports(run_dir, metrics, records)


def _judge(
    settings: Settings, advisor: Advisor, records: list[dict[str, Any]], wanted: bool | None, progress: bool
) -> bool:
    """Add LLM-judge scores when asked (or, by default, when an LLM backend is configured)."""
    if wanted is False or (wanted is None and settings.llm_backend == "none"):
        return False
    from evals.judge import make_judge

    judge: Judge | None = make_judge(settings, getattr(advisor, "backend", None))
    if judge is None:
        return False
    judge.score_records(records, progress)
    return True
