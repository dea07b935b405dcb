"""Split an answer's markdown body from its trailing 参考資料 list (API and UI show sources their own way)."""

from __future__ import annotations

from bot.schemas import ChatResponse, Citation

# Written by bot.compose.sources_section at the end of every answer that cites something.
SOURCES_HEADING = "### 参考資料"


def answer_body(answer: str) -> str:
    """The answer without its trailing 参考資料 section."""
    lines = answer.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip() == SOURCES_HEADING:
            return "\n".join(lines[:i]).rstrip()
    return answer.rstrip()


class BodyStream:
    """Passes streamed answer text through line by line and drops everything from the 参考資料 heading on."""

    def __init__(self) -> None:
        self._pending = ""
        self.done = False

    def feed(self, text: str) -> str:
        if self.done:
            return ""
        self._pending += text
        out: list[str] = []
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            if line.strip() == SOURCES_HEADING:
                self.done = True
                self._pending = ""
                break
            out.append(line + "\n")
        return "".join(out)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        if self.done or rest.strip() == SOURCES_HEADING:
            return ""
        return rest


def where(citation: Citation) -> str:
    """「p.8「見出し」」-style location of a citation (page and heading when known)."""
    parts = []
    if citation.page is not None:
        parts.append(f"p.{citation.page}")
    if citation.heading:
        parts.append(f"「{citation.heading}」")
    return " ".join(parts)


def sources_list(citations: list[Citation]) -> str:
    """A numbered 出典 list (document, page, heading, quote, URL) matching the [n] markers in the answer."""
    if not citations:
        return ""
    lines = ["**出典**", ""]
    for c in citations:
        location = where(c)
        line = f"- [{c.n}] {c.title}" + (f" {location}" if location else "") + f"：「{c.quote}」"
        if c.superseded_by:
            line += f"（{c.old_version_note}）"
        if c.url:
            line += f" <{c.url}>"
        lines.append(line)
    return "\n".join(lines)


def answer_with_sources(response: ChatResponse) -> str:
    """The answer body followed by the numbered 出典 list (document, page, quote) matching the [n] markers:
    the text for clients that show one text (OpenAI-compatible front-ends, MCP assistants)."""
    body = answer_body(response.answer)
    sources = sources_list(response.citations)
    return f"{body}\n\n{sources}" if sources else body
