"""Per-deployment gauges for /metrics, collected from the deployment board when scraped.

The board's numbers are already fleet-wide when Redis is configured (every live worker's entries added up), so
they are collected at scrape time by the answering worker rather than written to prometheus_client's per-process
files, where summing them across workers would count each request once per worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

DEPLOYMENT_STATES = ("healthy", "cooling", "open", "half_open", "disabled")
LABELS = ["model", "deployment", "provider"]


class DeploymentSource(Protocol):
    def snapshot(self) -> list[dict[str, Any]]: ...


class DeploymentCollector(Collector):
    """llmgateway_deployment_* gauges: state, weight, in flight, latency, error rate, requests, cooldown."""

    def __init__(self, source: DeploymentSource) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = self._source.snapshot()
        families = {
            "in_flight": GaugeMetricFamily("llmgateway_deployment_in_flight", "Requests in flight.", labels=LABELS),
            "weight": GaugeMetricFamily("llmgateway_deployment_weight", "Configured weight.", labels=LABELS),
            "latency": GaugeMetricFamily(
                "llmgateway_deployment_latency_seconds",
                "Moving average of recent latency (streams: time to first byte).",
                labels=LABELS,
            ),
            "error_rate": GaugeMetricFamily(
                "llmgateway_deployment_error_rate", "Moving average of failed attempts (0 to 1).", labels=LABELS
            ),
            "requests": GaugeMetricFamily(
                "llmgateway_deployment_requests", "Attempts counted by the live workers.", labels=LABELS
            ),
            "cooldown": GaugeMetricFamily(
                "llmgateway_deployment_cooldown_seconds",
                "Seconds until a 429's Retry-After lets it back in.",
                labels=LABELS,
            ),
        }
        state = GaugeMetricFamily(
            "llmgateway_deployment_state", "1 for the deployment's current state.", labels=[*LABELS, "state"]
        )
        now = time.time()
        for row in rows:
            labels = [row["model"], row["name"], row["provider"]]
            families["in_flight"].add_metric(labels, row["in_flight"])
            families["weight"].add_metric(labels, row["weight"])
            if row["latency_ms"] is not None:
                families["latency"].add_metric(labels, row["latency_ms"] / 1000.0)
            families["error_rate"].add_metric(labels, row["error_rate"])
            families["requests"].add_metric(labels, row["requests"])
            until = row["cooldown_until"]
            families["cooldown"].add_metric(
                labels, max(0.0, datetime.fromisoformat(until).timestamp() - now) if until else 0.0
            )
            for candidate in DEPLOYMENT_STATES:
                state.add_metric([*labels, candidate], 1.0 if row["state"] == candidate else 0.0)
        yield from families.values()
        yield state


def deployment_exposition(source: DeploymentSource) -> bytes:
    """The deployment gauges in Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeploymentCollector(source))
    return generate_latest(registry)
