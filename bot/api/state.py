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

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 5.0  # how often a request may retry loading a missing index


class AdvisorHolder:
    """The one Advisor of this process. If the index is missing, requests retry loading it now and then,
    so running `dxnavi ingest` after `dxnavi serve` works without a restart."""

    def __init__(self, settings: Settings, advisor: Advisor | None) -> None:
        self.settings = settings
        self.advisor = advisor
        self.error: DxnaviError | None = None
        self._lock = threading.Lock()
        self._last_try = 0.0

    def load(self) -> None:
        with self._lock:
            if self.advisor is not None:
                return
            self._last_try = time.monotonic()
            try:
                if self.settings.store == "server":
                    check_store(self.settings)  # fail fast before loading models
                advisor = Advisor.from_settings(self.settings)
                warm_up(advisor)
                self.advisor = advisor
                self.error = None
                log.info("advisor loaded (build %s)", advisor.index.meta.build_id)
            except (IndexMissingError, ModelMismatchError, StoreUnavailableError) as exc:
                self.error = exc
                log.warning("advisor not ready: %s", exc.message)

    def require(self) -> Advisor:
        # A Chroma server that was down is checked again on every request (a refused connection is
        # cheap), so the API recovers as soon as it is back; a missing index is retried now and then.
        interval = 0.0 if isinstance(self.error, StoreUnavailableError) else RELOAD_INTERVAL_S
        if self.advisor is None and time.monotonic() - self._last_try >= interval:
            self.load()
        if self.advisor is None:
            raise self.error or IndexMissingError(str(self.settings.index_dir))
        return self.advisor


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
