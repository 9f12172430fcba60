"""Tracing facade: an OpenTelemetry span per request and per upstream attempt, or nothing at all when off.

The OpenTelemetry packages (the `otel` extra) are imported only when tracing is enabled. With tracing off,
`attempt_span` costs one context-variable read and returns a shared no-op context manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from llmgateway.errors import ConfigError, GatewayError

TRACES_PATH = "/v1/traces"
DEFAULT_ENDPOINT = "http://localhost:4318"

_current: ContextVar[RequestTrace | None] = ContextVar("llmgateway_request_trace", default=None)


def operation_name(endpoint: str | None) -> str:
    """gen_ai.operation.name for a ledger endpoint name."""
    return "embeddings" if endpoint and "embed" in endpoint else "chat"


class _NullAttempt:
    """The attempt span when nothing is traced."""

    def __enter__(self) -> _NullAttempt:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def returned(self, result: Any) -> None:
        """Note what the attempt returned (usage, model); nothing to do here."""


NULL_ATTEMPT = _NullAttempt()


def attempt_span(call: Any, provider: str, provider_model: str) -> Any:
    """A context manager spanning one upstream attempt, a child of the current request's span."""
    trace = _current.get()
    if trace is None:
        return NULL_ATTEMPT
    return _AttemptSpan(trace, call, provider, provider_model)


class NullTracing:
    """Tracing switched off."""

    enabled = False

    def begin_request(self, name: str, attributes: Mapping[str, Any], carrier: Any) -> None:
        _current.set(None)

    def shutdown(self) -> None:
        """Nothing buffered."""


class OtelTracing:
    """Spans exported through an OpenTelemetry SDK TracerProvider owned by this app (not the global one)."""

    enabled = True

    def __init__(
        self, exporter: Any, *, service_name: str = "llmgateway", sample_ratio: float = 1.0, batch: bool = True
    ) -> None:
        from opentelemetry.propagate import get_global_textmap
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}),
            sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        )
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        self._provider.add_span_processor(processor)
        self.tracer = self._provider.get_tracer("llmgateway")
        self._propagator = get_global_textmap()

    @classmethod
    def otlp(cls, endpoint: str | None, *, service_name: str, sample_ratio: float) -> OtelTracing:
        """Export over OTLP/HTTP to `endpoint` (a collector's base URL; /v1/traces is appended)."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        url = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        if not url.endswith(TRACES_PATH):
            url += TRACES_PATH
        return cls(OTLPSpanExporter(endpoint=url), service_name=service_name, sample_ratio=sample_ratio)

    def begin_request(self, name: str, attributes: Mapping[str, Any], carrier: Any) -> RequestTrace:
        """Open the request's SERVER span (continuing a W3C `traceparent` the client sent) and make it current;
        `carrier` is the request's headers (any mapping-like object with get() and keys())."""
        from opentelemetry.trace import SpanKind

        parent = self._propagator.extract(carrier)
        span = self.tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=dict(attributes))
        trace = RequestTrace(self.tracer, span)
        _current.set(trace)
        return trace

    def shutdown(self) -> None:
        """Export what is buffered, then stop."""
        self._provider.shutdown()


class RequestTrace:
    """The open span of one request."""

    def __init__(self, tracer: Any, span: Any) -> None:
        self.tracer = tracer
        self.span = span

    def finish(self, line: Mapping[str, Any], call: Any) -> None:
        """Put the outcome on the span and end it."""
        from opentelemetry.trace import Status, StatusCode

        span = self.span
        status = int(line.get("status") or 0)
        span.set_attribute("http.response.status_code", status)
        if line.get("route"):
            span.set_attribute("http.route", line["route"])
            span.update_name(f"{line.get('method')} {line['route']}")
        if call is not None:
            _set_call_attributes(span, call)
        code = line.get("error_code")
        if status >= 400 and code:
            span.set_attribute("error.type", code)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        if _current.get() is self:
            _current.set(None)


class _AttemptSpan:
    """A CLIENT span around one upstream attempt."""

    def __init__(self, trace: RequestTrace, call: Any, provider: str, provider_model: str) -> None:
        self._trace = trace
        self._operation = operation_name(getattr(call, "endpoint", None))
        self._provider = provider
        self._model = provider_model
        self._span: Any = None

    def __enter__(self) -> _AttemptSpan:
        from opentelemetry.trace import SpanKind, set_span_in_context

        self._span = self._trace.tracer.start_span(
            f"{self._operation} {self._model}",
            context=set_span_in_context(self._trace.span),
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": self._operation,
                "gen_ai.system": self._provider,
                "gen_ai.provider.name": self._provider,
                "gen_ai.request.model": self._model,
            },
        )
        return self

    def returned(self, result: Any) -> None:
        self._span.set_attribute("gen_ai.response.model", self._model)
        usage = getattr(result, "usage", None)
        if usage is not None:
            self._span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            self._span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        from opentelemetry.trace import Status, StatusCode

        if exc is not None:
            code = exc.code if isinstance(exc, GatewayError) else type(exc).__name__
            self._span.set_attribute("error.type", code)
            self._span.set_status(Status(StatusCode.ERROR))
        self._span.end()


def _set_call_attributes(span: Any, call: Any) -> None:
    span.set_attribute("llmgateway.request_id", call.request_id)
    span.set_attribute("gen_ai.operation.name", operation_name(call.endpoint))
    if call.model:
        span.set_attribute("gen_ai.request.model", call.model)
    if call.provider:
        span.set_attribute("gen_ai.system", call.provider)
        span.set_attribute("gen_ai.provider.name", call.provider)
    if call.provider_model:
        span.set_attribute("gen_ai.response.model", call.provider_model)
    if call.usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", call.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", call.usage.completion_tokens)
    span.set_attribute("llmgateway.cache", call.cache_status)
    if call.fallback_from:
        span.set_attribute("llmgateway.fallback_from", call.fallback_from)


def build_tracing(config: Any) -> NullTracing | OtelTracing:
    """Tracing as configured (`otel` settings); a clear start-up error when the otel extra is missing."""
    if not config.active:
        return NullTracing()
    try:
        return OtelTracing.otlp(config.endpoint, service_name=config.service_name, sample_ratio=config.sample_ratio)
    except ImportError as exc:
        raise ConfigError(
            "the configuration", "otel.enabled", "needs the OpenTelemetry packages: pip install 'llmgateway[otel]'"
        ) from exc
