"""S7: property-based requests generated from our own OpenAPI document never get a 5xx, and answers match it."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from llmgateway import create_app
from tests.conftest import ADMIN_KEY, CHAT, base_config


@pytest.fixture(scope="module")
def gateway_app(tmp_path_factory, fake_openai_server):
    fake_openai_server.reset()
    db = tmp_path_factory.mktemp("schemathesis") / "ledger.db"
    config = base_config(f"sqlite:///{db}", fake_openai_server.url)
    # The admin key may also call completions and embeddings, so streams and vectors are generated and checked.
    config["api_keys"][0]["permissions"] = ["admin", "completion", "embedding"]
    app = create_app(config)
    yield app
    app.extensions["llmgateway"].close()


schema = schemathesis.pytest.from_fixture("gateway_schema")


@pytest.fixture(scope="module")
def gateway_schema(gateway_app):
    return schemathesis.openapi.from_wsgi("/openapi.json", gateway_app)


@schema.parametrize()
@seed(20261207)  # the same examples on every run (CI included)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_documented_answers(case):
    defaults = {"key_id": "00000000-0000-0000-0000-000000000000", "model_id": "gpt-4o", "name": "openai"}
    for name in ("key_id", "model_id", "name"):
        if "{" + name + "}" in case.path and not (case.path_parameters or {}).get(name):
            case.path_parameters = {**(case.path_parameters or {}), name: defaults[name]}
    response = case.call(headers={"X-API-Key": ADMIN_KEY})
    # A 500 is a bug. Other 5xx are answers the contract defines for valid input (e.g. 503 for a model that
    # routes to a provider this gateway has no key for) and must carry their own code.
    assert response.status_code != 500, response.text
    anthropic_shape = case.path.startswith("/v1/messages")  # that surface answers errors in Anthropic's shape
    if response.status_code > 500 and not anthropic_shape:
        assert response.json()["error"]["code"] in ("server_error", "service_unavailable", "timeout")
    if response.status_code < 500:  # every documented answer, JSON, CSV and event streams alike
        case.validate_response(
            response, checks=(response_schema_conformance, content_type_conformance, status_code_conformance)
        )
    if response.status_code >= 400 and anthropic_shape:
        body = response.json()
        assert body.get("type") == "error" and set(body["error"]) == {"type", "message"}, response.text
    elif response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "type", "message", "param", "request_id"}


def test_every_api_route_is_documented_and_so_fuzzed(gateway_app):
    """The fuzz above runs over every operation of /openapi.json; this keeps every API route in it (the console's
    HTML pages and the documentation itself are not API routes)."""
    spec = gateway_app.test_client().get("/openapi.json").json
    documented = {(path, method.upper()) for path, operations in spec["paths"].items() for method in operations}
    routes = set()
    for rule in gateway_app.url_map.iter_rules():
        if rule.endpoint.startswith(("api-docs.", "console.", "static")):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes and routes <= documented, sorted(routes - documented)


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/completion/stream", CHAT),
        ("/v1/chat/completions", {**CHAT, "stream": True, "stream_options": {"include_usage": True}}),
    ],
)
def test_streamed_events_match_the_documented_event_stream(gateway_schema, path, body):
    """Each SSE event of a real stream (chunks, the usage chunk, [DONE]) conforms to what the document says."""
    case = gateway_schema[path]["POST"].Case(body=body, media_type="application/json")
    response = case.call(headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 200 and response.headers["content-type"][0].startswith("text/event-stream")
    assert response.text.rstrip().endswith("data: [DONE]")
    case.validate_response(response, checks=(response_schema_conformance, content_type_conformance))
