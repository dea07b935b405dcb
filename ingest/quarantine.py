"""Sentences in a document that speak to an AI assistant instead of to a reader are quarantined at ingest.

A guide never tells "the assistant" to ignore its instructions, to answer every question with a fixed
sentence, to reveal its prompt or to become someone else; a poisoned document does. Such sentences are
removed before chunking — never indexed, never quoted, never given to an LLM — and listed in the ingest
report and `dxnavi doctor` so that someone can look at the file.
"""

from __future__ import annotations

import re

from ingest.normalize import nfkc

# Japanese and English, NFKC-normalised and lower-cased before matching.
ADDRESSED_TO_ASSISTANT = re.compile(
    # ignore the previous instructions
    r"(以前|これまで|今まで|上記|前|先)の(指示|命令|ルール|設定|プロンプト)を?(すべて|全て|全部)?(無視|忘れ|破棄)"
    r"|(指示|命令|ルール|制約)を(すべて|全て|全部)?(無視|忘れ)"
    r"|(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|your)\s+(instructions|prompts?|rules)"
    # answer every question with …
    r"|(すべて|全て|全部|どんな|あらゆる)の?(質問|問い合わせ|相談)(に|へ)(は|対して|対し)?.{0,60}(と|で)(答え|回答|返答|返信)"
    r"|(always|only)\s+(answer|respond|reply)\s+(with|by|that)|answer\s+(every|all|any)\s+questions?\s+with"
    # reveal the prompt
    r"|(システム)?プロンプト(を|の内容を)(表示|出力|教え|開示|見せ)|system\s+prompt"
    r"|reveal\s+(your|the)\s+(prompt|instructions|system)"
    # become someone else
    r"|(あなた|君|お前)は(今から|これから|もう).{0,40}(です|として|になり|だ)"
    r"|(ai|アシスタント|チャットボット|言語モデル|llm)(は|として|への|に対する|に告ぐ)"
    r".{0,30}(必ず|常に|指示|命令|従)"
    r"|\byou\s+are\s+now\b|\bact\s+as\s+(an?\s+)?(ai|assistant|chatbot)|\bpretend\s+to\s+be\b|ロールプレイ|jailbreak",
)
_SENTENCE = re.compile(r"[^。！？!?\n]*(?:[。！？!?]+|\n|$)")


def is_addressed_to_assistant(sentence: str) -> bool:
    return bool(ADDRESSED_TO_ASSISTANT.search(nfkc(sentence).lower()))


def quarantine(text: str) -> tuple[str, list[str]]:
    """`text` without the sentences addressed to an assistant, and those sentences."""
    removed: list[str] = []

    def keep(match: re.Match[str]) -> str:
        sentence = match.group(0)
        if sentence.strip() and is_addressed_to_assistant(sentence):
            removed.append(sentence.strip())
            return "\n" if sentence.endswith("\n") else ""
        return sentence

    return _SENTENCE.sub(keep, text), removed
