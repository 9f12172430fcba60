"""OpenTelemetry: a SERVER span per request, a CLIENT child per upstream attempt, GenAI attributes, OTLP export."""

from __future__ import annotations

import time

import pytest
from werkzeug.wrappers import Request, Response

from llmgateway.infra.tracing import NULL_ATTEMPT, NullTracing, attempt_span
from tests.conftest import CHAT, COMPLETION_KEY, EMBEDDING_KEY, auth
from tests.fakes.server import FakeServer

otel_sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is not installed")
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from llmgateway.infra.tracing import OtelTracing  # noqa: E402


@pytest.fixture
def traced(app):
    """The app with its tracing seam pointed at an in-memory exporter (exported as each span ends)."""
    exporter = InMemorySpanExporter()
    svc = app.extensions["llmgateway"]
    svc.tracing = OtelTracing(exporter, service_name="gateway-under-test", batch=False)
    return app.test_client(), exporter


def spans_by_kind(exporter):
    spans = exporter.get_finished_spans()
    return [s for s in spans if s.kind == SpanKind.SERVER], [s for s in spans if s.kind == SpanKind.CLIENT]


def test_a_completion_has_a_request_span_with_one_attempt_child(traced, fake_openai):
    client, exporter = traced
    with client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)) as response:
        assert response.status_code == 200
    [server], [attempt] = spans_by_kind(exporter)
    served = fake_openai.served[-1]
    assert attempt.parent.span_id == server.context.span_id
    assert attempt.context.trace_id == server.context.trace_id
    assert attempt.name == "chat gpt-4o-mini"
    assert dict(attempt.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": served.prompt_tokens,
        "gen_ai.usage.output_tokens": served.completion_tokens,
    }
    assert server.name == "POST /api/v1/completion"
    attrs = server.attributes
    assert attrs["http.route"] == "/api/v1/completion" and attrs["http.response.status_code"] == 200
    assert attrs["gen_ai.request.model"] == CHAT["model"] and attrs["gen_ai.response.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.output_tokens"] == served.completion_tokens
    assert attrs["llmgateway.request_id"] == response.headers["X-LLMGateway-Request-ID"]
    assert server.resource.attributes["service.name"] == "gateway-under-test"


def test_a_stream_span_ends_when_the_stream_ends_with_its_usage(traced, fake_openai):
    client, exporter = traced
    response = client.post("/api/v1/completion/stream", json=CHAT, headers=auth(COMPLETION_KEY), buffered=False)
    [attempt] = [s for s in exporter.get_finished_spans()]  # the stream is open: only the attempt has ended
    assert attempt.kind == SpanKind.CLIENT
    b"".join(response.response)
    response.close()
    [server], _ = spans_by_kind(exporter)
    assert server.attributes["gen_ai.usage.output_tokens"] == fake_openai.served[-1].completion_tokens
    assert attempt.parent.span_id == server.context.span_id


def test_upstream_failures_mark_both_spans_as_errors(traced, fake_openai):
    client, exporter = traced
    fake_openai.push("status", status=503, body={"error": {"message": "overloaded"}})
    with client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)) as response:
        assert response.status_code == 502
    [server], [attempt] = spans_by_kind(exporter)
    assert attempt.status.status_code == StatusCode.ERROR and attempt.attributes["error.type"] == "server_error"
    assert server.status.status_code == StatusCode.ERROR and server.attributes["error.type"] == "server_error"


def test_embeddings_and_client_trace_context(traced, fake_openai):
    client, exporter = traced
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {**auth(EMBEDDING_KEY), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    body = {"model": "openai.text-embedding-3-small", "input": ["one two"]}
    with client.post("/api/v1/embedding", json=body, headers=headers) as response:
        assert response.status_code == 200
    [server], [attempt] = spans_by_kind(exporter)
    assert format(server.context.trace_id, "032x") == trace_id
    assert attempt.attributes["gen_ai.operation.name"] == "embeddings"


def test_rejected_requests_have_no_attempt_span(traced):
    client, exporter = traced
    with client.post("/api/v1/completion", json=CHAT) as response:
        assert response.status_code == 401
    [server], attempts = spans_by_kind(exporter)
    assert attempts == [] and server.attributes["error.type"] == "authentication_required"


def test_tracing_is_off_by_default_and_costs_nothing(app, client, fake_openai):
    assert isinstance(app.extensions["llmgateway"].tracing, NullTracing)
    with client.post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)) as response:
        assert response.status_code == 200
    assert attempt_span(None, "openai", "gpt-4o") is NULL_ATTEMPT


class FakeCollector(FakeServer):
    """An OTLP/HTTP collector that keeps the protobuf bodies posted to /v1/traces."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def handle(self, request: Request, payload, fault, environ) -> Response:
        if request.path == "/v1/traces":
            self.bodies.append(request.get_data())
        return Response(b"", status=200, content_type="application/x-protobuf")


def test_spans_are_exported_over_otlp_to_the_configured_endpoint(make_app, fake_openai):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    collector = FakeCollector().start()
    try:
        app = make_app(otel={"endpoint": collector.url, "service_name": "edge-gateway"})
        svc = app.extensions["llmgateway"]
        assert isinstance(svc.tracing, OtelTracing)
        with app.test_client().post("/api/v1/completion", json=CHAT, headers=auth(COMPLETION_KEY)) as response:
            assert response.status_code == 200
        svc.tracing.shutdown()  # flushes the batch processor
        deadline = time.monotonic() + 5
        while not collector.bodies and time.monotonic() < deadline:
            time.sleep(0.05)
        names, services = set(), set()
        for body in collector.bodies:
            export = ExportTraceServiceRequest.FromString(body)
            for resource_spans in export.resource_spans:
                attributes = resource_spans.resource.attributes
                services |= {a.value.string_value for a in attributes if a.key == "service.name"}
                names |= {s.name for scope in resource_spans.scope_spans for s in scope.spans}
        assert names == {"POST /api/v1/completion", "chat gpt-4o-mini"}
        assert services == {"edge-gateway"}
    finally:
        collector.stop()
