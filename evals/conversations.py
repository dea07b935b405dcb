"""The multi-turn set (datasets/conversations.jsonl): each conversation asked turn by turn with its history,
the way the UI and the API send it, and every turn scored (key facts, agency, refusal, stage, and that a
follow-up never gets the previous answer again)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.schemas import ChatResponse, Message
from evals import metrics as m
from evals.dataset import DatasetError

DEFAULT_CONVERSATIONS = Path(__file__).resolve().parent / "datasets" / "conversations.jsonl"
# Two answers are "the same" when this share of their sentences is shared (Jaccard).
SAME_ANSWER = 0.8


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str
    key_facts: list[str] = Field(default_factory=list)
    expected_agency: str | None = None
    must_differ: bool = False
    answerable: bool = True
    stage: int | None = None
    not_covered: bool = False


class Conversation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    turns: list[Turn] = Field(min_length=1)


def load_conversations(path: Path) -> list[Conversation]:
    if not path.is_file():
        raise DatasetError(f"会話の評価データが見つかりません: {path}")
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(Conversation.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise DatasetError(f"{path.name} の {number} 行目が読めません: {exc}") from None
    return out


def same_answer(a: str, b: str) -> bool:
    """Byte-identical, or nearly all sentences shared."""
    if a == b:
        return True
    sa, sb = m.answer_sentences(a), m.answer_sentences(b)
    return bool(sa | sb) and len(sa & sb) / len(sa | sb) >= SAME_ANSWER


def run_conversations(
    conversations: Sequence[Conversation], ask: Callable[[list[Message]], ChatResponse]
) -> list[dict[str, Any]]:
    """One record per turn, in order, each asked with the whole conversation so far."""
    records = []
    for conv in conversations:
        history: list[Message] = []
        previous: str | None = None
        for index, turn in enumerate(conv.turns):
            history.append(Message(role="user", content=turn.user))
            response = ask(list(history))
            history.append(Message(role="assistant", content=response.answer))
            grounded, checked, unused = m.grounding(
                response.answer, {c.n: c.quote for c in response.citations}
            )
            records.append(
                {
                    "conversation": conv.id,
                    "turn": index,
                    "question": turn.user,
                    "answer": response.answer,
                    "topic": response.topic,
                    "refused": response.refused,
                    "answerable": turn.answerable,
                    "key_fact_coverage": m.key_fact_coverage(response.answer, turn.key_facts)
                    if turn.answerable
                    else None,
                    "agency_top1": m.agency_top1([a.name for a in response.agencies], turn.expected_agency)
                    if turn.answerable
                    else None,
                    "differs": (not same_answer(response.answer, previous))
                    if turn.must_differ and previous is not None
                    else None,
                    "stage_ok": (response.stage is not None and response.stage.level == turn.stage)
                    if turn.stage is not None
                    else None,
                    "grounded_sentences": grounded,
                    "checked_sentences": checked,
                    "unused_citations": unused,
                }
            )
            previous = response.answer
    return records


def _mean(values: Sequence[float | bool | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def summarize_conversations(records: Sequence[dict[str, Any]]) -> dict[str, float | int | None]:
    follow = [r for r in records if r["turn"] > 0]
    return {
        "conversations": len({r["conversation"] for r in records}),
        "turns": len(records),
        "followup_key_fact_coverage": _mean([r["key_fact_coverage"] for r in follow]),
        "followup_differs": _mean([r["differs"] for r in follow]),
        "followup_agency_top1": _mean([r["agency_top1"] for r in follow]),
        "conversation_refusal_accuracy": _mean([r["refused"] == (not r["answerable"]) for r in records]),
        "stage_accuracy": _mean([r["stage_ok"] for r in records]),
        "conversation_grounded_rate": (
            sum(r["grounded_sentences"] for r in records)
            / max(1, sum(r["checked_sentences"] for r in records))
        ),
        "conversation_unused_citations": sum(r["unused_citations"] for r in records),
    }
