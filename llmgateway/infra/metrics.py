"""Prometheus metrics: one observation per finished request, aggregated over gunicorn workers when asked to."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    exposition,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from pybreaker import CircuitBreaker, CircuitBreakerListener, CircuitBreakerState

from llmgateway.infra.deployment_metrics import DeploymentSource, deployment_exposition

OTHER = "other"
UNMATCHED = "(unmatched)"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
BREAKER_STATES = ("closed", "half_open", "open")
RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "budget_exceeded"})
MAX_LABEL_CHARS = 200
SAMPLE_INTERVAL = 2.0
#: The classic text format every Prometheus version reads (our names need none of 1.0.0's escaping).
CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", CONTENT_TYPE_LATEST)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class FinishedCall(Protocol):
    """What metrics read from a finished usage call (core.usage.UsageCall)."""

    model: str | None
    provider: str | None
    usage: Any
    cost_usd: float
    saved_cost_usd: float
    cache_status: str
    cached: bool
    streamed: bool
    fallback_from: str | None
    attempts: list[dict[str, Any]]
    ttft_ms: float | None
    upstream_ms: float


class BacklogSource(Protocol):
    @property
    def backlog(self) -> int: ...


class LabelGuard:
    """Caps the distinct values of a client-influenced label, so callers cannot explode the series count."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return ""
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit or len(value) > MAX_LABEL_CHARS:
            return OTHER
        self._seen.add(value)
        return value


class GatewayMetrics:
    """Every gateway metric, in a private registry (single process) or in prometheus_client's multiprocess files.

    Multiprocess mode is chosen by prometheus_client itself when PROMETHEUS_MULTIPROC_DIR is set before it is
    imported (gunicorn.conf.py does this in the master); `multiprocess_dir` must then name the same directory.
    """

    def __init__(self, *, multiprocess_dir: str | None = None, max_model_labels: int = 200) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self._models = LabelGuard(max_model_labels)
        self._backlog_sources: list[BacklogSource] = []
        self._deployments: DeploymentSource | None = None
        self._sampler: threading.Thread | None = None
        self._stopping = threading.Event()
        r = self.registry
        self.requests = Counter(
            "llmgateway_requests",
            "Finished HTTP requests.",
            ["route", "method", "status", "model", "provider"],
            registry=r,
        )
        self.errors = Counter("llmgateway_errors", "Error responses by error code.", ["route", "code"], registry=r)
        self.latency = Histogram(
            "llmgateway_request_duration_seconds",
            "Request duration until the body was sent (streams included).",
            ["route", "provider", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "llmgateway_time_to_first_token_seconds",
            "Streams: time from request to the first content token.",
            ["provider", "model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "llmgateway_gateway_overhead_seconds",
            "Non-streamed usage requests: duration not spent waiting on the upstream provider.",
            ["route"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "llmgateway_tokens",
            "Tokens by provider, model and type (prompt|completion).",
            ["provider", "model", "type"],
            registry=r,
        )
        self.cost = Counter(
            "llmgateway_cost_usd", "Cost in USD by provider and model.", ["provider", "model"], registry=r
        )
        self.saved_cost = Counter(
            "llmgateway_cache_saved_cost_usd", "Cost in USD that cache hits saved.", ["provider", "model"], registry=r
        )
        self.cache = Counter(
            "llmgateway_cache_requests",
            "Usage requests by cache result (hit|miss|bypass).",
            ["route", "result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "llmgateway_rate_limit_rejections",
            "Requests the gateway refused with 429 (rate limit or budget).",
            ["route", "code"],
            registry=r,
        )
        self.fallbacks = Counter(
            "llmgateway_fallbacks", "Requests answered by a fallback model.", ["from_model", "to_model"], registry=r
        )
        self.upstream_errors = Counter(
            "llmgateway_upstream_errors",
            "Failed upstream attempts by provider and gateway error code.",
            ["provider", "code"],
            registry=r,
        )
        self.in_flight = Gauge(
            "llmgateway_requests_in_flight", "Requests being served.", multiprocess_mode="livesum", registry=r
        )
        self.streams = Gauge(
            "llmgateway_streams_in_flight", "SSE streams being relayed.", multiprocess_mode="livesum", registry=r
        )
        self.breaker = Gauge(
            "llmgateway_circuit_breaker_state",
            "1 for the breaker's current state, 0 for the others.",
            ["breaker", "provider", "model", "state"],
            multiprocess_mode="livemostrecent",
            registry=r,
        )
        self.overload_refusals = Counter(
            "llmgateway_overload_refusals",
            "Requests refused with 503 because the worker was at server.max_in_flight.",
            registry=r,
        )
        self.dead_letters = Counter(
            "llmgateway_ledger_dead_letters",
            "Usage rows the database refused for their data, set aside as dead "
            "letters (`flask usage dead-letters` lists them).",
            registry=r,
        )
        self.clamped_usage = Counter(
            "llmgateway_usage_clamped",
            "Upstream answers whose token counts were out of bounds and were clamped.",
            ["provider"],
            registry=r,
        )
        self.backlog = Gauge(
            "llmgateway_ledger_backlog",
            "Usage records waiting to be written to the ledger.",
            multiprocess_mode="livesum",
            registry=r,
        )

    # -- the request path ---------------------------------------------------------------------
    def request_started(self) -> None:
        self.in_flight.inc()

    def request_ended(self) -> None:
        self.in_flight.dec()

    def stream_started(self) -> None:
        self.streams.inc()

    def stream_ended(self) -> None:
        self.streams.dec()

    def observe(self, line: Mapping[str, Any], call: FinishedCall | None, seconds: float | None) -> None:
        """Record one finished request: `line` is the request log line, `call` its usage call (if any)."""
        self._ensure_sampler()
        route = line.get("route") or UNMATCHED
        status = int(line.get("status") or 0)
        method = line.get("method") or ""
        code = line.get("error_code")
        model = provider = ""
        if call is not None and call.provider:
            provider = call.provider
            model = self._models(call.model)
        self.requests.labels(route, method if method in METHODS else OTHER, str(status), model, provider).inc()
        if seconds is not None:
            self.latency.labels(route, provider, model).observe(seconds)
        if status >= 400 and code:
            self.errors.labels(route, code).inc()
            if status == 429 and code in RATE_LIMIT_CODES and not _upstream_refused(call, code):
                self.rate_limited.labels(route, code).inc()
        if call is not None:
            self._observe_call(route, model, provider, call, seconds)

    def _observe_call(self, route: str, model: str, provider: str, call: FinishedCall, seconds: float | None) -> None:
        for attempt in call.attempts:
            self.upstream_errors.labels(attempt.get("provider") or "", attempt.get("error") or "").inc()
        if not provider:
            return
        self.cache.labels(route, call.cache_status.lower()).inc()
        usage = call.usage
        if usage is not None:
            if getattr(usage, "clamped", False):
                self.clamped_usage.labels(provider).inc()
            if usage.prompt_tokens:
                self.tokens.labels(provider, model, "prompt").inc(usage.prompt_tokens)
            if usage.completion_tokens:
                self.tokens.labels(provider, model, "completion").inc(usage.completion_tokens)
        if call.cost_usd:
            self.cost.labels(provider, model).inc(call.cost_usd)
        if call.saved_cost_usd:
            self.saved_cost.labels(provider, model).inc(call.saved_cost_usd)
        if call.fallback_from:
            self.fallbacks.labels(self._models(call.fallback_from), model).inc()
        if call.ttft_ms is not None:
            self.ttft.labels(provider, model).observe(call.ttft_ms / 1000.0)
        if seconds is not None and not call.streamed and (call.upstream_ms > 0 or call.cached):
            self.overhead.labels(route).observe(max(0.0, seconds - call.upstream_ms / 1000.0))

    # -- hooks for other components ----------------------------------------------------------
    def set_breaker_state(self, breaker: str, provider: str, model: str, state: str) -> None:
        """Breakers call this on every state change: `state` is one of closed, half_open, open."""
        for candidate in BREAKER_STATES:
            self.breaker.labels(breaker, provider, model, candidate).set(1.0 if candidate == state else 0.0)

    def overload_refused(self) -> None:
        """A worker at its in-flight bound refused a request."""
        self.overload_refusals.inc()

    def dead_letter_set_aside(self) -> None:
        """The ledger set one refused row aside."""
        self.dead_letters.inc()

    def watch_backlog(self, source: BacklogSource) -> None:
        """Report `source.backlog` (the usage ledger's queue) as llmgateway_ledger_backlog."""
        self._backlog_sources.append(source)

    def watch_deployments(self, source: DeploymentSource) -> None:
        """Report `source.snapshot()` (every deployment, fleet-wide with Redis) as llmgateway_deployment_*."""
        self._deployments = source

    # -- exposition -------------------------------------------------------------------------
    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type, over every worker in multiprocess mode."""
        self._sample()
        extra = deployment_exposition(self._deployments) if self._deployments is not None else b""
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)
            return generate_latest(registry) + extra, CONTENT_TYPE
        return generate_latest(self.registry) + extra, CONTENT_TYPE

    def close(self) -> None:
        self._stopping.set()

    # -- sampled gauges -----------------------------------------------------------------------
    def _sample(self) -> None:
        if self._backlog_sources:
            self.backlog.set(sum(source.backlog for source in self._backlog_sources))

    def _ensure_sampler(self) -> None:
        # Started on the first request, so only serving workers (never gunicorn's master) run it.
        if self._sampler is not None or not self._backlog_sources:
            return
        self._sampler = threading.Thread(target=self._sample_forever, name="metrics-sampler", daemon=True)
        self._sampler.start()

    def _sample_forever(self) -> None:
        while not self._stopping.wait(SAMPLE_INTERVAL):
            self._sample()


class BreakerStateListener(CircuitBreakerListener):
    """A pybreaker listener that reports every state change as llmgateway_circuit_breaker_state."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def state_change(
        self, cb: CircuitBreaker, old_state: CircuitBreakerState | None, new_state: CircuitBreakerState
    ) -> None:
        deployment = getattr(cb, "deployment", None)
        self._metrics.set_breaker_state(
            cb.name or "",
            getattr(deployment, "provider", ""),
            getattr(deployment, "model", ""),
            new_state.name.replace("-", "_"),
        )


def _upstream_refused(call: FinishedCall | None, code: str) -> bool:
    """Whether the 429 came from the provider (its last attempt failed with that code), not from our limits."""
    return call is not None and bool(call.attempts) and call.attempts[-1].get("error") == code
