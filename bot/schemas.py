"""The advisor's request and response models, shared by the CLI, the API, the UI and the evals."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Intent = Literal["start", "agency", "clause", "fact", "region", "out_of_scope"]
Role = Literal["user", "assistant", "system"]


class Message(BaseModel):
    role: Role = "user"
    content: str


def old_version_note(title: str, current: str) -> str:
    """「旧版（…2.0）の記述です。現行版は「…3.0」です。」 for a passage of a superseded document."""
    return f"旧版（{title}）の記述です。現行版は「{current}」です。"


class Citation(BaseModel):
    """A verbatim quote from an indexed chunk, numbered to match the `[n]` markers in the answer."""

    n: int
    chunk_id: str
    doc_id: str
    title: str
    page: int | None = None
    heading: str | None = None
    quote: str
    url: str | None = None
    # The current version's title when this quote comes from a document it supersedes (旧版).
    superseded_by: str | None = None

    @property
    def old_version_note(self) -> str:
        return old_version_note(self.title, self.superseded_by) if self.superseded_by else ""


class AgencyRecommendation(BaseModel):
    id: str
    name: str
    reason: str
    what_to_ask: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)


class StageEstimate(BaseModel):
    level: int = Field(ge=1, le=4)
    label: str
    reason: str
    citations: list[Citation] = Field(default_factory=list)


class RetrievedChunk(BaseModel):
    chunk_id: str
    doc_id: str
    title: str = ""
    page: int | None = None
    heading: str | None = None
    text: str
    score: float


class ChatResponse(BaseModel):
    """One answer. `answer` is Japanese markdown whose claims end with `[n]` citation markers."""

    message_id: str
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    agencies: list[AgencyRecommendation] = Field(default_factory=list)
    stage: StageEstimate | None = None
    intent: Intent
    refused: bool = False
    retrieved: list[RetrievedChunk] = Field(default_factory=list)
    mode: Literal["extractive", "llm"] = "extractive"
    topic: str | None = None  # id of the advice card the answer rests on (None: extractive passages)
    notice: str | None = None  # e.g. 「LLMに接続できなかったため抜粋モードで回答しました」
    latency_ms: float = 0.0
