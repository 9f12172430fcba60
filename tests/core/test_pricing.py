"""Pricing: each token type at its own price, published cache ratios as defaults, config overrides."""

from __future__ import annotations

import pytest

from llmgateway.core.pricing import PriceList
from llmgateway.core.routing import ModelCatalogue
from llmgateway.providers.registry import available_provider_classes
from llmgateway.providers.types import Pricing, Usage

CLASSES = available_provider_classes()
RATIOS = {name: cls.cache_price_ratios() for name, cls in CLASSES.items()}


def catalogue_price(model_id: str, prices: PriceList | None = None) -> Pricing:
    route = ModelCatalogue([], CLASSES, list(CLASSES)).resolve(model_id)
    return (prices or PriceList(None, RATIOS)).price_for(
        route.model_id, route.provider, route.provider_model, route.pricing
    )


def test_anthropic_reads_cost_a_tenth_and_writes_a_quarter_more_than_input():
    pricing = catalogue_price("anthropic.claude-sonnet-4-5-20250929")
    assert (pricing.input_per_million, pricing.cached_input_per_million) == (3.0, pytest.approx(0.3))
    assert pricing.cache_write_per_million == pytest.approx(3.75)
    # 1,000 uncached + 20,000 read + 5,000 written prompt tokens (prompt 26,000), 400 out (100 of them thinking)
    usage = Usage(26_000, 400, cached_tokens=20_000, cache_write_tokens=5_000, reasoning_tokens=100)
    expected = (1_000 * 3.0 + 20_000 * 0.3 + 5_000 * 3.75 + 400 * 15.0) / 1e6
    assert PriceList.cost(pricing, usage) == pytest.approx(expected, abs=1e-12)


def test_openai_table_prices_win_over_the_default_ratio():
    assert catalogue_price("gpt-4.1").cached_input_per_million == 0.5  # the table: 0.25x, not 0.5x
    assert catalogue_price("gpt-5").cached_input_per_million == 0.125
    assert catalogue_price("gpt-4-turbo").cached_input_per_million == 5.0  # no table price: 0.5x input


def test_reasoning_is_priced_once_as_part_of_the_completion():
    pricing = catalogue_price("o4-mini")
    plain = PriceList.cost(pricing, Usage(1_000, 500))
    reasoning = PriceList.cost(pricing, Usage(1_000, 500, reasoning_tokens=400))
    assert plain == reasoning == pytest.approx((1_000 * 1.1 + 500 * 4.4) / 1e6)


def test_openai_cached_tokens_are_part_of_the_prompt():
    pricing = catalogue_price("gpt-4o")
    usage = Usage(10_000, 100, cached_tokens=8_000)
    assert PriceList.cost(pricing, usage) == pytest.approx((2_000 * 2.5 + 8_000 * 1.25 + 100 * 10.0) / 1e6)


def test_config_override_keeps_the_providers_ratio_unless_it_names_cached_prices():
    ratio_only = PriceList(
        {"anthropic.claude-haiku-4-5-20251001": {"input_per_million": 2.0, "output_per_million": 8.0}}, RATIOS
    )
    pricing = catalogue_price("anthropic.claude-haiku-4-5-20251001", ratio_only)
    assert (pricing.cached_input_per_million, pricing.cache_write_per_million) == (pytest.approx(0.2), 2.5)
    explicit = PriceList(
        {
            "anthropic.claude-haiku-4-5-20251001": {
                "input_per_million": 2.0,
                "output_per_million": 8.0,
                "cached_input_per_million": 0.1,
                "cache_write_per_million": 4.0,
            }
        },
        RATIOS,
    )
    pricing = catalogue_price("anthropic.claude-haiku-4-5-20251001", explicit)
    assert (pricing.cached_input_per_million, pricing.cache_write_per_million) == (0.1, 4.0)


def test_unknown_prices_cost_nothing_and_cohere_has_no_cache_discount():
    assert PriceList.cost(Pricing(), Usage(100, 100, cached_tokens=50)) == 0.0
    pricing = catalogue_price("command-a-03-2025")
    assert PriceList.cost(pricing, Usage(1_000, 10, cached_tokens=600)) == PriceList.cost(pricing, Usage(1_000, 10))


def test_anthropic_one_hour_cache_writes_cost_twice_the_input():
    pricing = catalogue_price("anthropic.claude-opus-4-5-20251101")
    assert (pricing.cache_write_per_million, pricing.cache_write_1h_per_million) == (6.25, 10.0)
    # 3,000 written: 1,000 of them with ttl 1h
    usage = Usage(3_500, 10, cache_write_tokens=3_000, cache_write_1h_tokens=1_000)
    expected = (500 * 5.0 + 2_000 * 6.25 + 1_000 * 10.0 + 10 * 25.0) / 1e6
    assert PriceList.cost(pricing, usage) == pytest.approx(expected, abs=1e-12)
