"""Routing precedence (SPEC §3): mapping, then provider prefix, then inference; the catalogue."""

from __future__ import annotations

import pytest

from llmgateway.config import ModelMapping
from llmgateway.core.routing import ModelCatalogue
from llmgateway.errors import ConfigError, ModelNotFound, ProviderNotFound
from llmgateway.providers.registry import available_provider_classes


@pytest.fixture
def catalogue() -> ModelCatalogue:
    mappings = [
        ModelMapping(
            "gpt-4",
            "openai",
            "gpt-4-0125-preview",
            "GPT-4 Turbo",
            128000,
            ("completion",),
            {"input_per_million": 10.0, "output_per_million": 30.0},
        ),
        ModelMapping("house-model", "openai", "gpt-4o-mini"),
    ]
    return ModelCatalogue(mappings, available_provider_classes(), ["openai"])


def test_mapping_wins_over_everything(catalogue):
    route = catalogue.resolve("gpt-4")
    assert (route.provider, route.provider_model, route.display_name) == ("openai", "gpt-4-0125-preview", "GPT-4 Turbo")
    assert route.pricing.input_per_million == 10.0
    inherited = catalogue.resolve("HOUSE-MODEL")
    assert inherited.provider_model == "gpt-4o-mini" and inherited.context_window == 128000


def test_provider_prefix_is_case_insensitive_and_keeps_the_rest(catalogue):
    route = catalogue.resolve("OpenAI.gpt-4.1")
    assert (route.provider, route.provider_model) == ("openai", "gpt-4.1")
    assert route.model_id == "OpenAI.gpt-4.1"


def test_a_dot_is_part_of_the_name_when_the_prefix_is_no_provider(catalogue):
    route = catalogue.resolve("gpt-4.1")
    assert (route.provider, route.provider_model) == ("openai", "gpt-4.1")
    assert route.context_window == 1047576


@pytest.mark.parametrize("model", ["gpt-4o", "o1-preview", "o3-mini", "text-embedding-3-large"])
def test_openai_names_are_inferred(catalogue, model):
    assert catalogue.resolve(model).provider == "openai"


@pytest.mark.parametrize("model", ["llama-3", "", "x" * 300, "unknownprovider.model"])
def test_unknown_models_are_404(catalogue, model):
    with pytest.raises(ModelNotFound):
        catalogue.resolve(model)


def test_catalogue_lists_mappings_and_enabled_providers_models(catalogue):
    entries = {e["id"]: e for e in catalogue.entries()}
    assert entries["gpt-4"]["provider_model_id"] == "gpt-4-0125-preview"
    assert entries["openai.gpt-4o"]["capabilities"] == ["completion", "tools", "vision", "json_schema"]
    assert entries["openai.text-embedding-3-small"]["capabilities"] == ["embedding"]
    assert set(entries["openai.gpt-4o"]) == {
        "id",
        "object",
        "provider",
        "provider_model_id",
        "display_name",
        "context_window",
        "capabilities",
        "pricing",
    }
    assert all(e["provider"] == "openai" for e in catalogue.entries_for_provider("OPENAI"))
    with pytest.raises(ProviderNotFound):
        catalogue.entries_for_provider("nope")


def test_unknown_provider_in_a_mapping_is_a_start_up_error():
    with pytest.raises(ConfigError, match=r"routing\.model_mappings\.0\.provider: unknown provider 'nope'"):
        ModelCatalogue([ModelMapping("m", "nope", "x")], available_provider_classes(), [])
