"""An Azure OpenAI resource configured by type, through both surfaces: chat, streams, embeddings, its errors,
and a 429 with Retry-After cooling its deployment down while another deployment answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.conftest import ADMIN_KEY, COMPLETION_KEY, EMBEDDING_KEY, auth, ledger_rows
from tests.fakes.azure import FILTERED_WORD, FakeAzureOpenAI, azure_rate_limit
from tests.fakes.openai import FakeOpenAI


def azure_config(azure: FakeAzureOpenAI, alpha: FakeOpenAI) -> dict:
    return {
        "providers": {
            "azure-eu": {
                "type": "azure_openai",
                "api_key": azure.api_key,
                "base_url": azure.url,
                "api_version": "2024-10-21",
            },
            "alpha": {"type": "openai_compatible", "base_url": alpha.url + "/v1", "api_key": FakeOpenAI.api_key},
        },
        "routing": {
            "model_mappings": [
                {
                    "model_id": "gpt-4o",
                    "strategy": "ordered",
                    "deployments": [
                        {"provider": "azure-eu", "provider_model_id": "my-gpt4o"},
                        {"provider": "alpha", "provider_model_id": "gpt-4o"},
                    ],
                },
                {
                    "model_id": "embedder",
                    "provider": "azure-eu",
                    "provider_model_id": "my-embedding",
                    "capabilities": ["embedding"],
                },
            ]
        },
    }


@pytest.fixture
def client(make_app, azure, alpha):
    return make_app(**azure_config(azure, alpha)).test_client()


def chat(client, model: str, content: str = "hello there", path: str = "/api/v1/completion"):
    return client.post(
        path, json={"model": model, "messages": [{"role": "user", "content": content}]}, headers=auth(COMPLETION_KEY)
    )


def test_azure_serves_chat_by_provider_prefix_and_mapping(client, azure):
    answer = chat(client, "azure-eu.my-gpt4o")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["choices"][0]["message"]["content"] == azure.reply_text
    assert answer.headers["X-LLMGateway-Provider"] == "azure-eu"
    assert answer.headers["X-LLMGateway-Deployment"] == "azure-eu/my-gpt4o"
    assert azure.requests[-1]["path"] == "/openai/deployments/my-gpt4o/chat/completions"
    mapped = chat(client, "gpt-4o", path="/v1/chat/completions")
    assert mapped.status_code == 200 and mapped.headers["X-LLMGateway-Deployment"] == "azure-eu/my-gpt4o"
    [*_, row] = ledger_rows(client.application)
    assert (row["model"], row["provider"], row["provider_model"]) == ("gpt-4o", "azure-eu", "my-gpt4o")


def test_azure_streams_on_both_surfaces(client, azure):
    for path, body in (("/api/v1/completion/stream", {}), ("/v1/chat/completions", {"stream": True})):
        answer = client.post(
            path,
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **body},
            headers=auth(COMPLETION_KEY),
        )
        assert answer.status_code == 200 and answer.mimetype == "text/event-stream"
        events = [line[6:] for line in answer.data.decode().split("\n") if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        text = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in map(json.loads, events[:-1]) if c["choices"]
        )
        assert text == azure.reply_text
        assert answer.headers["X-LLMGateway-Deployment"] == "azure-eu/my-gpt4o"


def test_azure_embeddings_on_both_surfaces(client, azure):
    for path in ("/api/v1/embedding", "/v1/embeddings"):
        answer = client.post(path, json={"model": "embedder", "input": ["a b", "c"]}, headers=auth(EMBEDDING_KEY))
        assert answer.status_code == 200, answer.get_json()
        assert len(answer.get_json()["data"]) == 2
        assert azure.requests[-1]["path"] == "/openai/deployments/my-embedding/embeddings"


def test_azure_content_filter_and_unknown_deployment_are_client_errors(client, azure, alpha):
    filtered = chat(client, "gpt-4o", f"tell me about {FILTERED_WORD}")
    assert filtered.status_code == 400 and filtered.get_json()["error"]["code"] == "invalid_request"
    assert "content filter" in filtered.get_json()["error"]["message"]
    assert alpha.requests == []  # the prompt's fault: no other deployment is asked
    missing = chat(client, "azure-eu.no-such-deployment")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "model_not_found"


def test_a_429_with_retry_after_cools_the_deployment_down(client, azure, alpha):
    azure.push("status", **azure_rate_limit(30))
    first = chat(client, "gpt-4o")
    assert first.status_code == 200 and first.headers["X-LLMGateway-Deployment"] == "alpha/gpt-4o"
    for _ in range(5):
        assert chat(client, "gpt-4o").headers["X-LLMGateway-Deployment"] == "alpha/gpt-4o"
    assert len(azure.requests) == 1  # cooling: skipped without a call
    rows = {r["name"]: r for r in client.get("/api/v1/admin/deployments", headers=auth(ADMIN_KEY)).get_json()["data"]}
    cooling = rows["azure-eu/my-gpt4o"]
    assert cooling["state"] == "cooling" and cooling["cooldown_until"] is not None
    assert rows["alpha/gpt-4o"]["state"] == "healthy" and rows["alpha/gpt-4o"]["requests"] == 6
    remaining = datetime.fromisoformat(cooling["cooldown_until"]) - datetime.now(UTC)
    assert 25 < remaining.total_seconds() <= 30
