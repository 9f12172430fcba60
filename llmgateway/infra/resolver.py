"""gevent's name resolver for the workers: IP literals answered on the hub, names resolved in gevent's thread pool
and remembered for a few seconds, so opening upstream connections does not queue thread hand-offs."""

from __future__ import annotations

import _socket  # the C module: gevent never patches it
import time
from typing import Any

from gevent.resolver.thread import Resolver as ThreadResolver

#: How long a resolved name is reused (aiohttp's default DNS cache TTL is 10 s).
NAME_TTL_SECONDS = 10.0
MAX_NAMES = 1024

AddrInfo = list[tuple[Any, ...]]


class CachingResolver(ThreadResolver):
    """gevent's thread resolver, except that literal addresses never leave the hub and names are cached briefly.

    Each new upstream connection calls getaddrinfo. In gevent's default resolver every call is a hand-off to a
    thread: with 1,000 streams opening at once that was 18 % of a worker's CPU, mostly GIL contention. An IP
    literal needs no lookup at all (AI_NUMERICHOST answers without I/O), and a name's answer is reused for
    NAME_TTL_SECONDS. Select it with gevent's setting: `GEVENT_RESOLVER=llmgateway.infra.resolver.CachingResolver`.
    """

    def __init__(self, hub: Any = None) -> None:
        super().__init__(hub)
        self._names: dict[tuple[Any, ...], tuple[float, AddrInfo]] = {}

    def getaddrinfo(
        self, host: Any, port: Any, family: int = 0, socktype: int = 0, proto: int = 0, flags: int = 0
    ) -> AddrInfo:
        if isinstance(host, (str, bytes)):
            try:
                return _socket.getaddrinfo(host, port, family, socktype, proto, flags | _socket.AI_NUMERICHOST)
            except _socket.gaierror:
                pass  # a name, not a literal address
        query = (host, port, family, socktype, proto, flags)
        cached = self._names.get(query)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        answer = super().getaddrinfo(host, port, family, socktype, proto, flags)
        if len(self._names) >= MAX_NAMES:
            self._names.clear()
        self._names[query] = (now + NAME_TTL_SECONDS, answer)
        return answer
