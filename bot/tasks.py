"""Background tasks a chat front-end sends through the OpenAI-compatible endpoint (Open WebUI: a title,
tags, follow-up suggestions, search queries, autocomplete). Each prompt begins `### Task:` and embeds the
chat so far; it is answered in the JSON shape it asks for, quickly and without a DX answer.

Follow-up suggestions are questions dxnavi can answer: the example questions of the cards related to the
topic of the chat's last question.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.cards import Card
from bot.counsel import CARD_MIN_SCORE, CardIndex
from ingest.normalize import nfkc

TASK_PREFIX = re.compile(r"^\s*###\s*Task:", re.IGNORECASE)
_HISTORY = re.compile(r"<chat_history>(.*?)</chat_history>", re.DOTALL)
_USER_TURN = re.compile(r"^USER:\s*(.*?)(?=^ASSISTANT:|\Z)", re.DOTALL | re.MULTILINE)
TITLE_CHARS = 24


@dataclass(frozen=True)
class FrontEndTask:
    kind: str  # "title", "tags", "follow_ups", "queries", "autocomplete" or "unknown"
    user_turns: list[str]


def front_end_task(prompt: str) -> FrontEndTask | None:
    """The background task this message asks for, or None for an ordinary chat message."""
    if not TASK_PREFIX.match(prompt):
        return None
    history = _HISTORY.search(prompt)
    turns = [t.strip() for t in _USER_TURN.findall(history.group(1))] if history else []
    shape = prompt.split("### Output:", 1)[-1]
    for kind in ("follow_ups", "tags", "title", "queries"):
        if f'"{kind}"' in shape:
            return FrontEndTask(kind, [t for t in turns if t])
    kind = "autocomplete" if re.search(r"autocomplet", prompt, re.IGNORECASE) else "unknown"
    return FrontEndTask(kind, [t for t in turns if t])


def _short(text: str, limit: int = TITLE_CHARS) -> str:
    text = re.sub(r"[（(][^）)]*[）)]", "", nfkc(text)).strip()
    text = re.split(r"[。？?！!\n]", text, maxsplit=1)[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answer_task(task: FrontEndTask, cards: CardIndex, embed_query: Callable[[str], np.ndarray]) -> str:
    """The JSON text the front-end expects for `task`."""
    first = task.user_turns[0] if task.user_turns else ""
    last = task.user_turns[-1] if task.user_turns else ""

    def topic(question: str) -> Card | None:
        if not question:
            return None
        hits = cards.rank(question, embed_query(question), n=1)
        return hits[0].card if hits and hits[0].score >= CARD_MIN_SCORE else None

    if task.kind == "title":
        card = topic(first)
        return json.dumps({"title": _short(card.title if card else first) or "DXの相談"}, ensure_ascii=False)
    if task.kind == "tags":
        card = topic(last)
        tags = ["ビジネス", "DX", *([_short(card.title, 16)] if card else [])]
        return json.dumps({"tags": tags}, ensure_ascii=False)
    if task.kind == "follow_ups":
        card = topic(last)
        related = [c for r in (card.related if card else []) if (c := cards.by_id(r)) is not None]
        suggestions = [c.questions[0] for c in related[:3]] or [
            "何から始めればいい？",
            "どこに相談すればいい？",
            "DX認定のメリットは？",
        ]
        return json.dumps({"follow_ups": suggestions}, ensure_ascii=False)
    if task.kind == "queries":
        return json.dumps({"queries": [last] if last else []}, ensure_ascii=False)
    if task.kind == "autocomplete":
        return json.dumps({"text": ""}, ensure_ascii=False)
    return "{}"
