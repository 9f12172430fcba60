"""Ending open streams at shutdown: the error reaches a reader waiting on the upstream, and never one that has
moved on (into writing its usage record, say), where it would cut that work short."""

from __future__ import annotations

import gevent
from gevent.event import Event

from llmgateway.core.open_streams import OpenStreams
from llmgateway.errors import GatewayError, ServiceUnavailable
from llmgateway.providers.types import ChatDelta, ChatStream


def upstream(arrived: Event):
    """One delta once `arrived` is set, then a wait for a second one that never comes."""
    arrived.wait()
    yield ChatDelta(content="first")
    gevent.sleep(30)
    yield ChatDelta(content="never")


def test_a_reader_waiting_on_the_upstream_gets_the_error_at_once():
    streams = OpenStreams()
    stream = streams.track(ChatStream(upstream(Event())))
    outcome: list[str] = []

    def read() -> None:
        try:
            list(stream)
        except GatewayError as exc:
            outcome.append(exc.code)

    reader = gevent.spawn(read)
    gevent.sleep(0.01)  # the reader is now waiting for the first delta
    assert streams.abort_all(lambda: ServiceUnavailable("restarting")) == 1
    reader.join(2)
    assert outcome == ["service_unavailable"]


def test_a_reader_that_moved_on_finishes_its_work_and_sees_the_error_at_its_next_read():
    streams = OpenStreams()
    arrived = Event()
    stream = streams.track(ChatStream(upstream(arrived)))
    steps: list[str] = []

    def read() -> None:
        try:
            for delta in stream:
                steps.append(f"got {delta.content}")
                gevent.sleep(0.05)  # work after the delta (a record write waits like this on its fsync)
                steps.append("work done")
        except GatewayError as exc:
            steps.append(exc.code)

    reader = gevent.spawn(read)
    gevent.sleep(0.01)  # waiting for the first delta
    arrived.set()  # the delta arrives first: the reader wakes before the abort is delivered
    streams.abort_all(lambda: ServiceUnavailable("restarting"))
    reader.join(2)
    assert steps == ["got first", "work done", "service_unavailable"]
