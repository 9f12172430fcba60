"""The workers' gevent resolver: literal addresses never reach the thread pool; names are cached for a while."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from gevent.resolver.thread import Resolver as ThreadResolver

from llmgateway.infra import resolver as resolver_module
from llmgateway.infra.resolver import CachingResolver


@pytest.fixture
def lookups(monkeypatch):
    """Names the thread pool was asked to resolve (answered with the blocking resolver)."""
    asked: list[str] = []

    def through_threads(self, host, port, family=0, socktype=0, proto=0, flags=0):
        asked.append(host)
        return socket.getaddrinfo(host, port, family, socktype, proto, flags)

    monkeypatch.setattr(ThreadResolver, "getaddrinfo", through_threads)
    return asked


def test_literal_addresses_are_answered_without_a_lookup(lookups):
    resolver = CachingResolver()
    v4 = resolver.getaddrinfo("127.0.0.1", 8080, 0, socket.SOCK_STREAM)
    v6 = resolver.getaddrinfo("::1", 443, 0, socket.SOCK_STREAM)
    assert v4[0][4] == ("127.0.0.1", 8080)
    assert v6[0][4][:2] == ("::1", 443)
    assert lookups == []


def test_names_are_resolved_once_per_ttl(lookups, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(resolver_module.time, "monotonic", lambda: now[0])
    resolver = CachingResolver()
    first = resolver.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)
    again = resolver.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)
    assert first == again and ("127.0.0.1", 80) in [entry[4] for entry in first]
    assert lookups == ["localhost"]
    resolver.getaddrinfo("localhost", 81, socket.AF_INET, socket.SOCK_STREAM)  # another query, another lookup
    assert lookups == ["localhost", "localhost"]
    now[0] += resolver_module.NAME_TTL_SECONDS + 1
    resolver.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)
    assert lookups == ["localhost", "localhost", "localhost"]


def test_unknown_names_still_fail_as_lookups_do(lookups):
    with pytest.raises(socket.gaierror):
        CachingResolver().getaddrinfo("no-such-host.invalid", 80)


def test_gunicorn_config_makes_it_gevents_resolver_unless_the_operator_chose_one(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}  # else the config makes a directory
    env.pop("GEVENT_RESOLVER", None)
    script = (
        "import runpy, gevent; runpy.run_path('gunicorn.conf.py'); print(type(gevent.get_hub().resolver).__qualname__)"
    )
    chosen = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert chosen.stdout.strip().splitlines()[-1] == "CachingResolver"
    kept = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**env, "GEVENT_RESOLVER": "block"},
    )
    assert kept.stdout.strip().splitlines()[-1] == "Resolver"
