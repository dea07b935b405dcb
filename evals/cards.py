"""Card choice: does each turn of the owner conversations get the advice card that should answer it?

The labels (datasets/card_labels.jsonl: id, turn, best, ok) were written by helper sessions from the card
list and the conversations alone, one per user turn of owner sets 16–34; `ok` lists other cards that would
also answer. The advisor answers every conversation in turn, with history, as the UI does.

    python -m evals.cards [--misses]
    python -m evals.cards --export   # first messages and their cards → bot/data/asked.jsonl (they vote)

The exported messages are the ranker's labelled neighbours (bot.counsel NEIGHBOURS), so a score on the
labelled sets after an export measures messages the ranker has seen; `--folds` is the honest figure: each
half of them (16–25, 26–34) answered with only the other half's messages voting.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cards import ASKED_FILE
from evals.dataset import DATASETS

if TYPE_CHECKING:
    from bot.advisor import Advisor
    from bot.cards import AskedBefore

DEFAULT_LABELS = DATASETS / "card_labels.jsonl"
FIRST_LABELLED, LAST_LABELLED = 16, 34
DEFAULT_SETS = tuple(DATASETS / f"owner_review_{n}.jsonl" for n in range(FIRST_LABELLED, LAST_LABELLED + 1))


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


def _advisor() -> Advisor:
    """The advisor over the configured index (built first if missing), as the UI answers."""
    from bot.advisor import Advisor as Built
    from evals.runner import ensure_index
    from ground.config import load_settings

    settings = load_settings()
    ensure_index(settings, progress=False)
    return Built.from_settings(settings)


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
        advisor = _advisor()
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


def first_messages(
    labels: dict[tuple[str, int], Label], sets: tuple[Path, ...] = DEFAULT_SETS
) -> list[AskedBefore]:
    """Each labelled conversation's first message with its card: what a conversation opens with needs no
    history to be understood (a follow-up's card depends on the turns before it)."""
    from bot.cards import AskedBefore

    out = []
    for path in sets:
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                item = json.loads(raw)
                label = labels.get((item["id"], 1))
                if label is not None:
                    out.append(AskedBefore(text=item["messages"][0], card=label.best, also=sorted(label.ok)))
    return out


def export(labels: dict[tuple[str, int], Label], path: Path = ASKED_FILE) -> int:
    rows = first_messages(labels)
    path.write_text(
        "".join(json.dumps(r.model_dump(), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return len(rows)


def folds(labels: dict[tuple[str, int], Label]) -> list[tuple[str, Tally, Tally]]:
    """Two-fold cross-validation: sets 16–25 answered with 26–34's messages voting, and the other way."""
    advisor = _advisor()
    middle = (len(DEFAULT_SETS) + 1) // 2
    halves = (DEFAULT_SETS[:middle], DEFAULT_SETS[middle:])
    out = []
    for test, train in (halves, halves[::-1]):
        advisor.cards.learn(first_messages(labels, train))
        first, follow = score(labels, test, advisor)
        out.append((f"{test[0].stem[-2:]}–{test[-1].stem[-2:]}", first, follow))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="カード選択の正解率（オーナー会話の各ターン）")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--misses", action="store_true", help="外れたターンを一覧する")
    parser.add_argument("--export", action="store_true", help=f"最初の質問とそのカードを {ASKED_FILE} に書く")
    parser.add_argument("--folds", action="store_true", help="2分割の交差検証（片方の半分だけを近傍にする）")
    args = parser.parse_args()
    labels = load_labels(args.labels)
    if args.export:
        print(f"{export(labels)} 件を {ASKED_FILE} に書きました（python -m bot.vectors でベクトルも更新）")
        return
    if args.folds:
        print("| 評価した組 | 最初の質問 最適/許容 | 追質問 最適/許容 |")
        print("|---|---|---|")
        for name, first, follow in folds(labels):
            (fb, fa), (ob, oa) = first.rates(), follow.rates()
            print(f"| {name} | {fb:.3f} / {fa:.3f} | {ob:.3f} / {oa:.3f} |")
        return
    first, follow = score(labels)
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
