"""What the app holds between requests: the advisor (reloaded while the index is missing) and the recent
answers that feedback refers to."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from bot.advisor import Advisor
from ground.errors import DxnaviError, IndexMissingError, ModelMismatchError, StoreUnavailableError

if TYPE_CHECKING:
    from ground.config import Settings
    from ingest.embed import Embedder

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 5.0  # how often a request may retry loading a missing index, or look for a new one


class AdvisorHolder:
    """The one Advisor of this process, kept up to date with the index.

    If the index is missing, requests retry loading it now and then, so `dxnavi ingest` after
    `dxnavi serve` works without a restart. Once loaded, requests look at `CURRENT` now and then; when
    an ingest has switched in a new build, it is loaded in the background while the old one keeps
    answering, then swapped in (every worker process does this by itself). A build that fails to load
    leaves the old one serving.
    """

    def __init__(self, settings: Settings, advisor: Advisor | None) -> None:
        self.settings = settings
        self.advisor = advisor
        self.error: DxnaviError | None = None
        self._lock = threading.Lock()
        self._last_try = 0.0
        self._last_look = time.monotonic()
        self._loading: threading.Thread | None = None
        self._retired: list[Advisor] = []

    def load(self) -> None:
        with self._lock:
            if self.advisor is not None:
                return
            self._last_try = time.monotonic()
            try:
                self.advisor = self._new_advisor()
                self.error = None
                log.info("advisor loaded (build %s)", self.advisor.index.meta.build_id)
            except (IndexMissingError, ModelMismatchError, StoreUnavailableError) as exc:
                self.error = exc
                log.warning("advisor not ready: %s", exc.message)

    def _new_advisor(self, embedder: Embedder | None = None) -> Advisor:
        if self.settings.store == "server":
            check_store(self.settings)  # fail fast before loading models
        advisor = Advisor.from_settings(self.settings, private_store=True, embedder=embedder)
        warm_up(advisor)
        return advisor

    def require(self) -> Advisor:
        # A Chroma server that was down is checked again on every request (a refused connection is
        # cheap), so the API recovers as soon as it is back; a missing index is retried now and then.
        interval = 0.0 if isinstance(self.error, StoreUnavailableError) else RELOAD_INTERVAL_S
        if self.advisor is None and time.monotonic() - self._last_try >= interval:
            self.load()
        if self.advisor is None:
            raise self.error or IndexMissingError(str(self.settings.index_dir))
        if self.due_to_look():
            self.look_for_new_build()
        return self.advisor

    def due_to_look(self) -> bool:
        """Time to see whether an ingest switched in a new build (every RELOAD_INTERVAL_S)."""
        return time.monotonic() - self._last_look >= RELOAD_INTERVAL_S

    def look_for_new_build(self) -> threading.Thread | None:
        """Start loading the build `CURRENT` names if it is not the one serving; returns the loader."""
        from ingest import index as idx

        self._last_look = time.monotonic()
        current = self.advisor
        if current is None or (self._loading is not None and self._loading.is_alive()):
            return None
        try:
            build_id = idx.current_build_id(self.settings.index_dir)
        except OSError:
            return None
        if build_id is None or build_id == current.index.meta.build_id:
            return None
        self._loading = threading.Thread(
            target=self._switch_to, args=(build_id, current), name="dxnavi-reload", daemon=True
        )
        self._loading.start()
        return self._loading

    def _switch_to(self, build_id: str, old: Advisor) -> None:
        try:
            new = self._new_advisor(embedder=old.index.embedder if self._same_model(old) else None)
        except Exception as exc:  # any failure: keep answering from the old build
            log.warning(
                "new index build %s not loaded, still serving %s: %s", build_id, old.index.meta.build_id, exc
            )
            return
        with self._lock:
            self.advisor = new
            # The build before the old one is surely no longer in use: drop its private store copy.
            for retired in self._retired:
                retired.index.close()
            self._retired = [old]
        log.info("switched to index build %s (was %s)", new.index.meta.build_id, old.index.meta.build_id)

    def close(self) -> None:
        """Remove the private store copies of every build this process loaded."""
        with self._lock:
            for advisor in [*self._retired, *([self.advisor] if self.advisor else [])]:
                advisor.index.close()
            self._retired = []

    def _same_model(self, advisor: Advisor) -> bool:
        embedder = advisor.index.embedder
        return (embedder.engine, embedder.model_id) == (
            self.settings.embedding_engine,
            self.settings.embedding_model,
        )


def check_store(settings: Settings) -> None:
    """Raise StoreUnavailableError unless the Chroma server answers its heartbeat."""
    from ingest.store import open_client, server_down_message

    try:
        open_client(settings, settings.index_dir).heartbeat()
    except StoreUnavailableError:
        raise
    except Exception as exc:  # chromadb raises plain exceptions for refused connections
        raise StoreUnavailableError(server_down_message(settings)) from exc


def warm_up(advisor: Advisor) -> None:
    """One search before serving: opens the vector store (lazily opened, and not safe to open from many
    threads at once) and runs every code path once, so the first users do not pay for it."""
    advisor.index.search("DXを何から始めればいい？", k=1)


class RecentAnswers:
    """The last few thousand answers by message_id, so feedback rows can carry the question and answer."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, message_id: str, question: str, answer: str) -> None:
        with self._lock:
            self._items[message_id] = (question, answer)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, message_id: str) -> tuple[str, str] | None:
        with self._lock:
            return self._items.get(message_id)
