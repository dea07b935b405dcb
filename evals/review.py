"""The owner-rubric review packet: answer held-back owner questions (datasets/owner_review.jsonl) and write
them, with nothing else, for an independent reviewer who scores helpful / grounded / readable / agency.

    python -m evals.review [--out review.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.schemas import Message

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "datasets" / "owner_review.jsonl"
RUBRIC = """\
Score each answer 1–5 on:
- helpful: would an SME owner know what to do next after reading it?
- grounded: is every sentence supported by the passages it cites (check the corpus)? Anything invented?
- readable: natural, polite Japanese; one clear answer, not stitched fragments?
- agency: is the recommended support agency (if any) the right one, with a true reason? (n/a if none needed)
For a question the guides do not cover, a clear refusal is the right answer (5 for helpful).
"""


def write_packet(out: Path, questions: Path = DEFAULT_QUESTIONS) -> int:
    """Answer every conversation in turn (with history) and write the review packet; returns the count."""
    from bot.advisor import Advisor
    from evals.runner import ensure_index
    from ground.config import load_settings

    settings = load_settings()
    ensure_index(settings, progress=False)
    advisor = Advisor.from_settings(settings)
    lines = ["# DXナビ owner review packet", "", RUBRIC]
    count = 0
    for raw in questions.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        item = json.loads(raw)
        history: list[Message] = []
        lines.append(f"## {item['id']}")
        for turn, text in enumerate(item["messages"], start=1):
            history.append(Message(role="user", content=text))
            response = advisor.ask(list(history))
            history.append(Message(role="assistant", content=response.answer))
            lines += [
                f"### {item['id']} turn {turn} — question",
                "",
                text,
                "",
                "### answer",
                "",
                response.answer,
            ]
            if response.citations:
                lines += ["", "#### quotes"]
                lines += [f"- [{c.n}] p.{c.page}「{c.quote}」" for c in response.citations]
            lines.append("")
        count += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--out", type=Path, default=Path("review.md"))
    args = parser.parse_args()
    n = write_packet(args.out, args.questions)
    print(f"{n} 件の会話を {args.out} に書きました。")


if __name__ == "__main__":
    main()
