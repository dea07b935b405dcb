"""Request dependencies: the API key and rate limit (`guard`) and the advisor (`AdvisorDep`)."""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bot.advisor import Advisor
from bot.api.state import AdvisorHolder

if TYPE_CHECKING:
    from ground.config import Settings


SESSION_SHARE = 10  # a front-end's sessions together: at most this many times one session's limit


class RateLimiter:
    """Token bucket per client IP: `per_minute` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def take(self, key: str) -> float:
        """Take one token; 0.0 when allowed, else the seconds until the next token."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:  # forget idle clients (their buckets are full again)
            idle = [k for k, (_, t) in self._buckets.items() if now - t > 60.0]
            for k in idle:
                del self._buckets[k]
        return 0.0


def client_address(request: Request, trusted: list[str]) -> str:
    """The client's address: the peer, or — when the peer is a trusted proxy — the nearest address in
    X-Forwarded-For that is not itself a trusted proxy (a client cannot rotate it to dodge the limit)."""
    peer = request.client.host if request.client else "unknown"
    networks = _networks(tuple(trusted))
    if not _in(peer, networks):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, networks):
            return hop
    return hops[0] if hops else peer


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def _too_many(limiter: RateLimiter, bucket: str) -> None:
    wait = limiter.take(bucket)
    if wait > 0:
        seconds = max(1, int(wait + 0.999))
        raise HTTPException(
            429,
            f"リクエストが多すぎます（1分あたり {int(limiter.capacity)} 回まで）。"
            f"{seconds}秒ほど待ってから、もう一度お試しください。",
            headers={"Retry-After": str(seconds)},
        )


KEY_MISSING = "APIキーが必要です。`Authorization: Bearer <DXNAVI_API_KEY の値>` ヘッダーを付けてください。"
KEY_WRONG = "APIキーが正しくありません。"


def bearer_key(authorization: str, keys: list[str]) -> tuple[bool, int | None]:
    """(no Bearer token was sent at all, the index of the key the token is): compared in constant time."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    matched = next(
        (i for i, k in enumerate(keys) if secrets.compare_digest(token.encode(), k.encode())), None
    )
    return scheme.lower() != "bearer" or not token, matched


SESSION_HEADER = "x-dxnavi-session"
_SESSION = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


async def guard(request: Request) -> None:
    """API key (when keys are set) and rate limit. The limit is kept per API key when keys are used (a
    front-end's users share its key, not one address), else per client address; failed attempts count in a
    bucket of their own per address, so that they never use up a valid key's allowance.

    A front-end that serves many people (the UI) names each person's session in `X-Dxnavi-Session`: each
    session then has the limit of its own, and all of them together at most SESSION_SHARE times it (new
    session names do not buy more than that)."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
    client = client_address(request, settings.trusted_proxies)
    keys = settings.bearer_keys
    if not keys:
        _limit(request, limiter, f"ip:{client}")
        return
    missing, matched = bearer_key(request.headers.get("authorization", ""), keys)
    if missing or matched is None:
        if limiter.enabled:
            _too_many(limiter, f"denied:{client}")
        raise HTTPException(
            401, KEY_MISSING if missing else KEY_WRONG, headers={"WWW-Authenticate": "Bearer"}
        )
    _limit(request, limiter, f"key:{matched}")


def _limit(request: Request, limiter: RateLimiter, bucket: str) -> None:
    if not limiter.enabled:
        return
    session = request.headers.get(SESSION_HEADER, "")
    if not _SESSION.match(session):
        _too_many(limiter, bucket)
        return
    _too_many(request.app.state.shared_limiter, bucket)
    _too_many(limiter, f"{bucket}:session:{session}")


async def get_advisor(request: Request) -> Advisor:
    holder: AdvisorHolder = request.app.state.holder
    if holder.advisor is not None and not holder.due_to_look():
        return holder.advisor  # the common case costs no thread
    return await run_in_threadpool(holder.require)


AdvisorDep = Annotated[Advisor, Depends(get_advisor)]
