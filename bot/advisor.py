"""The advisor: route → retrieve → stage/agency → extractive (or verified LLM) answer with citations."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from bot import catalog
from bot.agencies import AgencyMatch, match_agencies
from bot.compose import (
    CitationBook,
    SentencePool,
    citation_for,
    quote_line,
    select_sentences,
    sources_section,
)
from bot.retrieve import Hit, SearchIndex, check_query
from bot.route import IntentRouter, find_regions, is_injection, is_off_topic, route_intent
from bot.schemas import AgencyRecommendation, ChatResponse, Intent, Message, RetrievedChunk, StageEstimate
from bot.stage import StageMatch, estimate_stage
from dxnavi.errors import QueryError
from ingest.normalize import nfkc

if TYPE_CHECKING:
    from dxnavi.config import Settings

log = logging.getLogger(__name__)

_ANAPHORA = re.compile(
    r"それ|その|これ|この|あれ|そこ|そっち|こっち|じゃあ|では|だったら|なら|ほか|他に|もっと|詳しく|具体的"
)
_WANTS_FIGURE = re.compile(
    r"何%|何％|何パーセント|何割|いくら|何円|利率|金利|何社|何地域|何人|何件|何位|割合|どのくらい|どれくらい|上限|最大|率|how much|how many|rate|percent"
)
_PILLAR = re.compile(r"柱\s*(\d(?:\s*[-ー－の]\s*\d)?)|第\s*(\d)\s*の柱|pillar\s*(\d(?:-\d)?)", re.IGNORECASE)
_VIEWPOINT = re.compile(r"視点\s*([①②③1-3])")

REFUSAL_HELP = (
    "DXナビがお手伝いできること:\n"
    "- DXを何から始めればよいか（デジタル活用の4段階と最初の一歩）\n"
    "- 相談先（地域金融機関・ITコーディネータ・商工会議所などの支援機関）の選び方\n"
    "- デジタルガバナンス・コード3.0の視点と柱、DX推進指標、DX認定、DXセレクションの内容"
)


# Refusal thresholds, calibrated on the tune split of the gold set (confusion matrix in README).
SCOPE_DENSE = 0.845  # best e5 cosine of the top passages
SCOPE_OVERLAP = 0.3  # share of the question's IDF weight found in the top passages
SCOPE_DENSE_ENGLISH = 0.78
_ENGLISH_DOMAIN = re.compile(
    r"\b(dx|digital|certif\w*|governance|it|sme|smes|support|bank|loan|selection|pillar|coordinator|subsid\w*"
    r"|guidance|transformation|index|stage)\b",
    re.IGNORECASE,
)


def is_mostly_ascii(text: str) -> bool:
    letters = [ch for ch in text if not ch.isspace()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.6


# How many quoted sentences each kind of answer carries (besides stage and agency lines).
SENTENCES: dict[str, int] = {"start": 4, "agency": 2, "clause": 4, "fact": 4}

# Words the guides use for what each kind of question is about: they steer the lexical side of
# retrieval (and sentence choice, at half weight) toward the passages that answer that kind of question.
INTENT_HINTS: dict[str, list[str]] = {
    "start": ["身の回りの業務のデジタル化から始め", "身近なところから始め成功体験", "支援機関の伴走支援"],
    "agency": ["支援機関の活用", "支援機関"],
    "region": ["地域DX推進ラボ", "支援機関の活用"],
}


@dataclass(frozen=True)
class StreamEvent:
    """`delta` events carry answer text; the last event is `final` with the whole response."""

    kind: str
    text: str = ""
    response: ChatResponse | None = None


@lru_cache(maxsize=1)
def synonym_groups() -> list[tuple[list[str], list[str]]]:
    """(words that trigger, words added): a plain list works both ways; {en, ja} goes English → Japanese."""
    raw = yaml.safe_load((catalog.DATA_DIR / "synonyms.yaml").read_text(encoding="utf-8"))
    groups = []
    for entry in raw:
        if isinstance(entry, dict):
            groups.append(([nfkc(w).lower() for w in entry["en"]], [nfkc(w).lower() for w in entry["ja"]]))
        else:
            words = [nfkc(w).lower() for w in entry]
            groups.append((words, words))
    return groups


def expansions_for(text: str) -> list[str]:
    """Guide wording for the owner's words (synonyms) and clause names for 「柱3-3」-style references."""
    lowered = nfkc(text).lower()
    out: list[str] = []
    for triggers, added in synonym_groups():
        if any(w in lowered for w in triggers):
            out.extend(w for w in added if w not in lowered and w not in out)
    clauses = catalog.clauses()
    for match in _PILLAR.finditer(nfkc(text)):
        key = re.sub(r"\s|の|ー|－", "-", next(g for g in match.groups() if g)).replace("--", "-")
        if key in clauses.pillars:
            out.append(clauses.pillars[key])
    for match in _VIEWPOINT.finditer(nfkc(text)):
        key = {"①": "1", "②": "2", "③": "3"}.get(match.group(1), match.group(1))
        if key in clauses.viewpoints:
            out.append(clauses.viewpoints[key])
    return out


class Advisor:
    """Answers a conversation from the index. Create once (models load here); `ask` is thread-safe."""

    def __init__(self, settings: Settings, index: SearchIndex, backend: Any = None) -> None:
        self.settings = settings
        self.index = index
        self.pool = SentencePool(index.chunks, index.embedder.embed_documents, index.sentence_vectors())
        self.backend = backend
        self.regions = catalog.lab_regions()
        # Example vectors bypass the query cache: it is for questions users actually ask.
        self.router = IntentRouter(
            lambda qs: np.vstack([index.embedder.embed_query(q) for q in qs]), self.regions
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Advisor:
        from ingest.embed import embedder_from_settings

        index = SearchIndex(settings, embedder_from_settings(settings))
        backend = None
        if settings.llm_backend != "none":
            from bot.llm import create_backend

            backend = create_backend(settings)
        return cls(settings, index, backend)

    # ----------------------------------------------------------------------------------------
    def check_messages(self, messages: list[Message]) -> list[Message]:
        if not messages:
            raise QueryError("メッセージがありません。質問を入力してください。")
        if len(messages) > self.settings.max_messages:
            raise QueryError(
                f"会話が長すぎます（{len(messages)}件）。{self.settings.max_messages}件以内にしてください。"
            )
        for m in messages:
            check_query(m.content, self.settings.max_message_chars) if m.role == "user" else None
        if messages[-1].role != "user":
            raise QueryError("最後のメッセージはユーザーの質問にしてください。")
        return messages

    def ask(self, messages: list[Message]) -> ChatResponse:
        started = time.perf_counter()
        messages = self.check_messages(messages)
        response = self._answer(messages)
        response.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return response

    def stream(self, messages: list[Message]) -> Iterator[StreamEvent]:
        """Answer text in pieces (line by line), then the final response."""
        response = self.ask(messages)
        for line in response.answer.splitlines(keepends=True):
            yield StreamEvent("delta", text=line)
        yield StreamEvent("final", response=response)

    # ----------------------------------------------------------------------------------------
    def _answer(self, messages: list[Message]) -> ChatResponse:
        # Earlier refused turns (injection, off-topic) never steer later answers.
        user_turns = [
            m.content
            for m in messages[:-1]
            if m.role == "user" and not (is_injection(m.content) or is_off_topic(m.content))
        ] + [messages[-1].content]
        question = user_turns[-1]
        intent: Intent = self.router.route(question, self.index.embed_query(question))
        # A follow-up such as 「それはどこに相談すればいい？」 is retrieved together with earlier turns.
        context = question
        if len(user_turns) > 1 and (_ANAPHORA.search(question) or len(question) < 20):
            context = " ".join(user_turns[-3:])
        situation = " ".join(user_turns)
        expansions = expansions_for(context) + INTENT_HINTS.get(intent, [])
        # A clause reference such as 「柱3-3」 means the pillar's name: search for the name too (dense side).
        query = context
        if _PILLAR.search(nfkc(context)) or _VIEWPOINT.search(nfkc(context)):
            query = " ".join([context, *expansions_for(context)])
        hits = self.index.search(query, k=self.settings.retrieve_k, expansions=expansions)
        retrieved = [self._retrieved(h) for h in hits]
        if (
            intent == "out_of_scope"
            or is_injection(question)
            or not self._in_scope(question, hits, expansions)
        ):
            return self._refusal(
                intent_reason="injection" if is_injection(question) else "scope", retrieved=retrieved
            )
        if intent in ("fact", "clause") and len(user_turns) > 1 and re.search(r"相談|どこに|誰に", question):
            intent = "agency"
        book = CitationBook(urls=dict(self.index.urls))
        stage_match = estimate_stage(situation)
        stage = self._stage(stage_match, book, hits) if stage_match else None
        matches = match_agencies(situation if intent != "fact" else question, first_step=intent == "start")
        # Agencies for questions about where to go, and whenever the owner names an agency type.
        wants_agency = intent in ("start", "agency", "region") or (
            bool(matches) and matches[0].keyword_hits > 0
        )
        agencies = self._agencies(matches, book, hits) if wants_agency else []
        mode = "extractive"
        notice: str | None = None
        body: str | None = None
        if self.backend is not None:
            body, notice = self._llm_body(question, messages, hits, book, stage, agencies)
            mode = "llm" if body is not None else "extractive"
        if body is None:
            body = self._compose(
                intent, question, context, expansions, hits, book, stage, stage_match, agencies, matches
            )
        body = book.renumber(body)
        answer = "\n\n".join(part for part in [body, sources_section(book)] if part)
        return ChatResponse(
            message_id=uuid.uuid4().hex,
            answer=answer,
            citations=book.citations,
            agencies=agencies,
            stage=stage,
            intent=intent,
            refused=False,
            retrieved=retrieved,
            mode=mode,  # type: ignore[arg-type]
            notice=notice,
        )

    def _retrieved(self, hit: Hit) -> RetrievedChunk:
        c = hit.chunk
        return RetrievedChunk(
            chunk_id=c.chunk_id,
            doc_id=c.doc_id,
            title=c.title,
            page=c.page,
            heading=c.heading,
            text=c.text,
            score=round(hit.score, 6),
        )

    def _in_scope(self, question: str, hits: list[Hit], expansions: list[str]) -> bool:
        """Is the question about what the guides cover? Calibrated on the tune split (README).

        Domain-specific rule matches (a region of the lab list, a clause reference, asking for a
        support agency or where to start) count as evidence; otherwise the retrieved passages must be
        close in meaning (dense) or share the question's rarer words (lexical overlap).
        """
        if not hits:
            return False
        if route_intent(question, self.regions) in ("region", "agency", "start", "clause"):
            return True
        best_dense = max((h.dense_similarity or 0.0) for h in hits[:3])
        if is_mostly_ascii(question):
            # English questions share no Japanese words with the guides: rely on domain terms.
            return bool(_ENGLISH_DOMAIN.search(question)) and best_dense >= SCOPE_DENSE_ENGLISH
        weights = self.pool.weights(question, expansions)
        total = sum(weights.values()) or 1.0
        top = [c for h in hits[:3] for c in self.pool.by_chunk.get(h.chunk.chunk_id, [])]
        top_tokens = set().union(*(c.tokens | c.heading_tokens for c in top)) if top else set()
        overlap = sum(w for t, w in weights.items() if t in top_tokens) / total
        return best_dense >= SCOPE_DENSE or overlap >= SCOPE_OVERLAP

    def _refusal(self, intent_reason: str, retrieved: list[RetrievedChunk]) -> ChatResponse:
        if intent_reason == "injection":
            text = (
                "申し訳ありませんが、その指示には従えません。DXナビは、参照している政府のDX関連資料の内容だけをもとに、"
                "出典を示してお答えします。\n\n" + REFUSAL_HELP
            )
        else:
            text = (
                "申し訳ありません。ご質問の内容は、DXナビが参照している資料（経済産業省のDX推進施策の資料）には"
                "記載がないため、お答えできません。\n\n" + REFUSAL_HELP
            )
        return ChatResponse(
            message_id=uuid.uuid4().hex, answer=text, intent="out_of_scope", refused=True, retrieved=retrieved
        )

    # ----------------------------------------------------------------------------------------
    def _cite_quote(self, book: CitationBook, quote: str, hits: list[Hit]) -> int | None:
        chunk = self.pool.find_chunk(quote, [h.chunk for h in hits])
        if chunk is None:
            log.warning("catalog quote not found in the index: %s", quote[:40])
            return None
        return book.cite(chunk, quote)

    def _stage(self, match: StageMatch, book: CitationBook, hits: list[Hit]) -> StageEstimate:
        stage = match.stage
        markers = [
            n
            for q in [*stage.example_quotes[:1], stage.description_quote]
            if (n := self._cite_quote(book, q, hits))
        ]
        cues = "・".join(f"「{c.upper() if c.isascii() else c}」" for c in match.cues[:3])
        reason = (
            f"ご説明にある{cues}は、資料の4段階のうち段階{stage.level}「{stage.label}」の例"
            f"（「{stage.example_quotes[0]}」）に近い状況です。"
        )
        return StageEstimate(
            level=stage.level, label=stage.label, reason=reason, citations=[book.get(n) for n in markers]
        )

    def _agencies(
        self, matches: list[AgencyMatch], book: CitationBook, hits: list[Hit]
    ) -> list[AgencyRecommendation]:
        out = []
        for m in matches:
            agency = m.agency
            cited: list[int] = []
            reason = agency.reason
            if m.regions:
                reason = f"{'・'.join(m.regions)}は地域DX推進ラボの選定地域です。" + reason
                listing = self._region_listing(m.regions[0])
                if listing is not None:
                    cited.append(book.cite(listing.chunk, listing.text))
            cited += [n for q in agency.quotes[:2] if (n := self._cite_quote(book, q, hits))]
            out.append(
                AgencyRecommendation(
                    id=agency.id,
                    name=agency.name,
                    reason=reason,
                    what_to_ask=agency.what_to_ask,
                    citations=[book.get(n) for n in cited],
                )
            )
        return out

    def _region_listing(self, region: str) -> Any:
        """The guides' list of selected lab regions that names `region` (the evidence for the claim)."""
        for cands in self.pool.by_chunk.values():
            for cand in cands:
                if region in cand.text and cand.text.count("・") >= 5:
                    return cand
        return None

    def _compose(
        self,
        intent: Intent,
        question: str,
        context: str,
        expansions: list[str],
        hits: list[Hit],
        book: CitationBook,
        stage: StageEstimate | None,
        stage_match: StageMatch | None,
        agencies: list[AgencyRecommendation],
        matches: list[AgencyMatch],
    ) -> str:
        chunks = [h.chunk for h in hits]
        weights = self.pool.weights(context, expansions)
        want_digits = bool(_WANTS_FIGURE.search(nfkc(question)))
        qvec = self.index.embed_query(context)
        parts: list[str] = []

        def quoted(cands: list[Any]) -> list[str]:
            return [f"- {quote_line(c.text, book.cite(c.chunk, c.text))}" for c in cands]

        if intent == "start":
            if stage is not None and stage_match is not None:
                markers = "".join(f"[{c.n}]" for c in stage.citations)
                parts.append(
                    f"### 現在地\n段階{stage.level}「{stage.label}」と考えられます。{stage.reason}{markers}"
                )
            parts.append("### 最初の一歩")
            # Without a described situation, the guides' general advice applies: start small and near.
            steps = (stage_match.stage if stage_match else catalog.stages()[0]).next_step_quotes[:2]
            lines = [f"- {quote_line(q, n)}" for q in steps if (n := self._cite_quote(book, q, hits))]
            seen = steps + (
                [*stage_match.stage.example_quotes, stage_match.stage.description_quote]
                if stage_match
                else []
            )
            picked = select_sentences(
                self.pool,
                chunks[:6],
                weights,
                SENTENCES["start"] - len(lines),
                exclude=seen,
                query_vector=qvec,
            )
            parts.append("\n".join(lines + quoted(picked)))
            parts.append(self._agency_section(agencies, "### 相談先", detailed=1))
        elif intent in ("agency", "region"):
            regions = find_regions(question, self.regions)
            parts.append(self._agency_section(agencies, "### おすすめの相談先", detailed=2))
            picked = select_sentences(
                self.pool,
                chunks[:6],
                weights,
                SENTENCES["agency"],
                exclude=[q for a in agencies for q in [c.quote for c in a.citations]],
                query_vector=qvec,
            )
            if picked:
                parts.append("### 資料の記述\n" + "\n".join(quoted(picked)))
            if intent == "region" and not regions:
                parts.insert(
                    0, "ご質問の地域は、資料にある地域DX推進ラボの選定地域の一覧には見当たりませんでした。"
                )
        elif intent == "clause":
            heading = chunks[0].heading if chunks else None
            picked = select_sentences(
                self.pool,
                chunks[:5],
                weights,
                SENTENCES["clause"],
                want_digits=want_digits,
                query_vector=qvec,
            )
            title = (
                f"### {expansions[-1]}"
                if expansions and _PILLAR.search(nfkc(question))
                else f"### {heading or '該当箇所'}"
            )
            parts.append(title + "\n" + "\n".join(quoted(picked)))
        else:
            picked = select_sentences(
                self.pool, chunks[:6], weights, SENTENCES["fact"], want_digits=want_digits, query_vector=qvec
            )
            parts.append("### 回答\n" + "\n".join(quoted(picked)))
            parts.append(self._agency_section(agencies, "### 関連する相談先", detailed=1))
        return "\n\n".join(p for p in parts if p.strip())

    @staticmethod
    def _agency_section(agencies: list[AgencyRecommendation], title: str, detailed: int) -> str:
        """The first `detailed` agencies with reason and what to ask; the rest on one line."""
        if not agencies:
            return ""
        lines = [title]
        for a in agencies[:detailed]:
            markers = "".join(f"[{c.n}]" for c in a.citations)
            lines.append(f"**{a.name}**: {a.reason}{markers}")
            if a.what_to_ask:
                lines.append("相談するときに伝えること: " + "／".join(a.what_to_ask[:3]))
        others = [f"{a.name}" + "".join(f"[{c.n}]" for c in a.citations[:1]) for a in agencies[detailed:]]
        if others:
            lines.append("ほかの相談先: " + "、".join(others))
        return "\n\n".join(lines)

    def _llm_body(
        self,
        question: str,
        messages: list[Message],
        hits: list[Hit],
        book: CitationBook,
        stage: StageEstimate | None,
        agencies: list[AgencyRecommendation],
    ) -> tuple[str | None, str | None]:
        """LLM mode: write from the retrieved passages, keep only verified sentences.

        Returns (body, notice); body is None when the extractive answer must be used instead.
        """
        from bot.llm import llm_answer
        from bot.verify import parse_markers
        from dxnavi.errors import LLMError

        top = [h.chunk for h in hits[:5]]
        passages = [citation_for(c, i, c.text) for i, c in enumerate(top, start=1)]
        try:
            verified = llm_answer(self.backend, question, messages[:-1], passages)
        except LLMError as exc:
            log.warning("LLM answer unusable, falling back to extractive: %s", exc.message)
            return None, f"LLMの回答を使えなかったため、抜粋モードで回答しました（{exc.message}）"
        # Each passage marker becomes a citation of the passage's sentence that best supports the claims.
        renumber: dict[int, int] = {}
        for sentence in verified.kept:
            for marker in parse_markers(sentence.sentence):
                if marker in renumber or not 1 <= marker <= len(top):
                    continue
                chunk = top[marker - 1]
                weights = self.pool.weights(sentence.sentence)
                best = select_sentences(self.pool, [chunk], weights, 1)
                renumber[marker] = book.cite(chunk, best[0].text if best else chunk.text)
        text = re.sub(
            r"\[(\d+)\]", lambda m: f"[{renumber.get(int(m.group(1)), int(m.group(1)))}]", str(verified)
        )
        parts = []
        if stage is not None:
            markers = "".join(f"[{c.n}]" for c in stage.citations)
            parts.append(
                f"### 現在地\n段階{stage.level}「{stage.label}」と考えられます。{stage.reason}{markers}"
            )
        parts.append("### 回答\n" + text)
        if agencies:
            parts.append(self._agency_section(agencies, "### 相談先", detailed=1))
        notice = None
        if verified.dropped:
            notice = f"出典で裏付けられなかった {len(verified.dropped)} 文を回答から除きました。"
        return "\n\n".join(parts), notice
