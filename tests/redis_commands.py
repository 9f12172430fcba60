"""Counting the Redis commands the gateway's own connections send (MONITOR, matched to named connections)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis

END_MARKER = "llmgateway-test-end-of-commands"


@contextmanager
def commands_of(redis_url: str, client_name: str) -> Iterator[list[str]]:
    """The commands that connections named `client_name` send while the block runs (MONITOR, then matched to
    those connections by CLIENT LIST, so other tests' background threads on the same database do not count)."""
    seen: list[tuple[str, str]] = []
    ours: list[str] = []
    monitor_client, marker = redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)
    marker.ping()
    ready = threading.Event()

    def listen() -> None:
        with monitor_client.monitor() as monitor:
            ready.set()
            for entry in monitor.listen():
                if END_MARKER in entry["command"]:
                    return
                if entry.get("client_type") != "lua":
                    address = f"{entry.get('client_address')}:{entry.get('client_port')}"
                    seen.append((address, entry["command"].split()[0].upper()))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(5)
    try:
        yield ours
    finally:
        marker.echo(END_MARKER)
        listener.join(5)
        named = {c["addr"] for c in marker.client_list() if c.get("name") == client_name}
        ours.extend(command for address, command in seen if address in named)
        marker.close()
        monitor_client.close()
