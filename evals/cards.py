"""Card choice: does each turn of the owner conversations get the advice card that should answer it?

The labels (datasets/card_labels.jsonl: id, turn, best, ok) were written by helper sessions from the card
list and the conversations alone, one per user turn of owner sets 16–23; `ok` lists other cards that would
also answer. The advisor answers every conversation in turn, with history, as the UI does.

    python -m evals.cards [--misses]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evals.dataset import DATASETS

if TYPE_CHECKING:
    from bot.advisor import Advisor

DEFAULT_LABELS = DATASETS / "card_labels.jsonl"
DEFAULT_SETS = tuple(sorted(DATASETS.glob("owner_review_1[6-9].jsonl"))) + tuple(
    sorted(DATASETS.glob("owner_review_2[0-3].jsonl"))
)


@dataclass(frozen=True)
class Label:
    best: str  # a card id, or "none" where no card answers (outside the guides)
    ok: frozenset[str] = frozenset()


@dataclass
class Tally:
    turns: int = 0
    best: int = 0
    acceptable: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, label: Label, chosen: str, where: str) -> None:
        self.turns += 1
        self.best += chosen == label.best
        if chosen == label.best or chosen in label.ok:
            self.acceptable += 1
        else:
            self.misses.append(f"{where}: {chosen} (expected {label.best})")

    def rates(self) -> tuple[float, float]:
        return (self.best / self.turns, self.acceptable / self.turns) if self.turns else (0.0, 0.0)


def load_labels(path: Path = DEFAULT_LABELS) -> dict[tuple[str, int], Label]:
    labels = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            row = json.loads(raw)
            labels[(row["id"], row["turn"])] = Label(row["best"], frozenset(row.get("ok", [])))
    return labels


def score(
    labels: dict[tuple[str, int], Label],
    sets: tuple[Path, ...] = DEFAULT_SETS,
    advisor: Advisor | None = None,
) -> tuple[Tally, Tally]:
    """First turns and follow-ups: how many got the labelled card (a refused or cardless turn is "none")."""
    from bot.schemas import Message

    if advisor is None:
        from bot.advisor import Advisor as Built
        from evals.runner import ensure_index
        from ground.config import load_settings

        settings = load_settings()
        ensure_index(settings, progress=False)
        advisor = Built.from_settings(settings)
    first, follow = Tally(), Tally()
    for path in sets:
        for raw in path.read_text(encoding="utf-8").splitlines():
            if not raw.strip():
                continue
            item = json.loads(raw)
            history: list[Message] = []
            for turn, text in enumerate(item["messages"], start=1):
                history.append(Message(role="user", content=text))
                response = advisor.ask(list(history))
                history.append(Message(role="assistant", content=response.answer))
                label = labels.get((item["id"], turn))
                if label is not None:
                    tally = first if turn == 1 else follow
                    tally.add(label, response.topic or "none", f"{item['id']} turn {turn}")
    return first, follow


def main() -> None:
    parser = argparse.ArgumentParser(description="カード選択の正解率（オーナー会話の各ターン）")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--misses", action="store_true", help="外れたターンを一覧する")
    args = parser.parse_args()
    first, follow = score(load_labels(args.labels))
    print("| ターン | 件数 | 最適カード | 許容カード |")
    print("|---|---|---|---|")
    for name, tally in (("最初の質問", first), ("追質問", follow)):
        best, acceptable = tally.rates()
        print(f"| {name} | {tally.turns} | {best:.3f} | {acceptable:.3f} |")
    if args.misses:
        for miss in first.misses + follow.misses:
            print(f"- {miss}")


if __name__ == "__main__":
    main()
