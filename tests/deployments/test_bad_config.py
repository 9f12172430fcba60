"""Bad deployment configuration stops start-up with a message naming the file, the key and the problem."""

from __future__ import annotations

import pytest

from llmgateway import create_app
from llmgateway.config import load_settings
from llmgateway.errors import ConfigError

GOOD_PROVIDERS = """
providers:
  groq: {type: openai_compatible, base_url: "https://api.groq.com/openai/v1", api_key: gsk-x}
  azure-eu: {type: azure_openai, base_url: "https://x.openai.azure.com", api_key: k, api_version: "2024-10-21"}
"""


def start(tmp_path, text: str) -> None:
    """Load the file and build the app (some checks need the provider registry), as start-up does."""
    path = tmp_path / "gateway.yaml"
    path.write_text(f"database: {{url: 'sqlite:///{tmp_path}/gw.db'}}\nlogging: {{level: WARNING}}\n{text}")
    app = create_app(load_settings(environ={"LLMGATEWAY_CONFIG": str(path)}))
    app.extensions["llmgateway"].close()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            GOOD_PROVIDERS + "routing: {model_mappings: [{model_id: m, deployments: [{provider: nope, "
            "provider_model_id: x}]}]}",
            "routing.model_mappings.0.deployments.0.provider",
            "unknown provider 'nope'",
        ),
        (
            "routing: {model_mappings: [{model_id: m, provider: nope, provider_model_id: x}]}",
            "routing.model_mappings.0.provider",
            "unknown provider 'nope'",
        ),
        (
            GOOD_PROVIDERS + "routing: {model_mappings: [{model_id: m, deployments: [{provider: groq, "
            "provider_model_id: x, weight: 0}]}]}",
            "routing.model_mappings.0.deployments.0.weight",
            "greater than 0",
        ),
        (
            GOOD_PROVIDERS + "routing: {model_mappings: [{model_id: m, deployments: [{provider: groq, "
            "provider_model_id: x, weight: -2}]}]}",
            "routing.model_mappings.0.deployments.0.weight",
            "greater than 0",
        ),
        (
            "providers: {vllm: {type: openai_compatible, base_url: 'ftp://vllm.internal/v1'}}",
            "providers.vllm.base_url",
            "Not a valid URL",
        ),
        ("providers: {vllm: {type: openai_compatible}}", "providers.vllm.base_url", "needs a base_url"),
        (
            "providers: {az: {type: azure_openai, base_url: 'https://x.openai.azure.com'}}",
            "providers.az.api_key",
            "needs an api_key",
        ),
        ("providers: {vllm: {type: grpc, base_url: 'http://x'}}", "providers.vllm.type", "Must be one of"),
        ("providers: {vllm: {base_url: 'http://x/v1'}}", "providers.vllm.type", "unknown provider"),
        (
            "providers: {openai: {type: azure_openai, base_url: 'https://x', api_key: k}}",
            "providers.openai.type",
            "built-in provider's name",
        ),
        (
            "providers:\n  groq: {type: openai_compatible, base_url: 'http://a'}\n"
            "  Groq: {type: openai_compatible, base_url: 'http://b'}\n",
            "providers.Groq",
            "two providers are named",
        ),
        (
            "providers:\n  groq: {type: openai_compatible, base_url: 'http://a'}\n"
            "  groq: {type: openai_compatible, base_url: 'http://b'}\n",
            "(file)",
            "the key 'groq' appears twice",
        ),
        (
            GOOD_PROVIDERS + "routing: {model_mappings: [{model_id: m, strategy: random, deployments: [{provider: groq,"
            " provider_model_id: x}]}]}",
            "routing.model_mappings.0.strategy",
            "Must be one of",
        ),
        (
            GOOD_PROVIDERS + "routing: {model_mappings: [{model_id: m, provider: groq, provider_model_id: x, "
            "deployments: [{provider: groq, provider_model_id: y}]}]}",
            "routing.model_mappings.0.deployments",
            "list deployments, or give provider",
        ),
        (
            GOOD_PROVIDERS + "routing: {model_mappings: [{model_id: m, deployments: [{provider: groq, "
            "provider_model_id: x}, {provider: groq, provider_model_id: x}]}]}",
            "routing.model_mappings.0.deployments.1",
            "listed twice",
        ),
    ],
)
def test_bad_deployment_config_names_the_key(tmp_path, text, key, problem):
    with pytest.raises(ConfigError) as caught:
        start(tmp_path, text)
    message = str(caught.value)
    assert str(tmp_path / "gateway.yaml") in message and f"{key}:" in message and problem in message, message


def test_a_good_deployment_config_starts(tmp_path):
    start(
        tmp_path,
        GOOD_PROVIDERS
        + """
routing:
  model_mappings:
    - model_id: gpt-4o
      strategy: least_busy
      deployments:
        - {provider: azure-eu, provider_model_id: my-gpt4o, weight: 3}
        - {provider: groq, provider_model_id: llama-3.3-70b, weight: 1}
fallbacks:
  rules: [{model_id: gpt-4o, fallback_models: [groq.llama-3.1-8b]}]
""",
    )
