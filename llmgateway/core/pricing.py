"""Cost of a call in USD from per-million-token prices (catalogue defaults, overridable in config).

cost = (prompt - cached - cache writes) x input + cached x cached_input + cache writes x cache_write
       + completion x output
(one-hour cache writes, a part of the cache writes, at cache_write_1h instead of cache_write)

Cached reads and cache writes are parts of the provider's prompt count; reasoning tokens are part of the
completion count (OpenAI `completion_tokens`, Anthropic `output_tokens`), so they are priced as output once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from llmgateway.providers.types import Pricing, Usage

#: (cached read, cache write, one-hour cache write) prices as fractions of the input price; 1.0: no published discount.
CacheRatios = tuple[float, float, float]
NO_CACHE_DISCOUNT: CacheRatios = (1.0, 1.0, 1.0)
PRICE_FIELDS = (
    "input_per_million",
    "output_per_million",
    "cached_input_per_million",
    "cache_write_per_million",
    "cache_write_1h_per_million",
)


def pricing_from(values: Mapping[str, float | None]) -> Pricing:
    """A Pricing from a config mapping (missing fields None)."""
    return Pricing(*(values.get(name) for name in PRICE_FIELDS))


class PriceList:
    """Prices by gateway model id or `provider.model`; config overrides win over catalogue prices.

    A cached price left unset takes the provider's published ratio to the input price (`cache_ratios`, by
    provider name), so an override of the input price moves the cached prices with it.
    """

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, float | None]] | None = None,
        cache_ratios: Mapping[str, CacheRatios] | None = None,
    ) -> None:
        self._overrides = {key.lower(): pricing_from(value) for key, value in (overrides or {}).items()}
        self._ratios = {name.lower(): ratios for name, ratios in (cache_ratios or {}).items()}

    def price_for(self, model_id: str, provider: str, provider_model: str, default: Pricing) -> Pricing:
        """The prices of one route with every cached price filled in (when the input price is known)."""
        pricing = default
        for key in (model_id.lower(), f"{provider}.{provider_model}".lower()):
            if key in self._overrides:
                pricing = self._overrides[key]
                break
        return self.with_cache_defaults(pricing, self._ratios.get(provider.lower(), NO_CACHE_DISCOUNT))

    @staticmethod
    def with_cache_defaults(pricing: Pricing, ratios: CacheRatios) -> Pricing:
        base = pricing.input_per_million
        if base is None:
            return pricing
        read = pricing.cached_input_per_million
        write = pricing.cache_write_per_million
        write_1h = pricing.cache_write_1h_per_million
        return replace(
            pricing,
            cached_input_per_million=base * ratios[0] if read is None else read,
            cache_write_per_million=base * ratios[1] if write is None else write,
            cache_write_1h_per_million=base * ratios[2] if write_1h is None else write_1h,
        )

    @staticmethod
    def cost(pricing: Pricing, usage: Usage | None) -> float:
        """The formula in this module's docstring; an unset price counts as 0."""
        if usage is None:
            return 0.0
        input_price = pricing.input_per_million or 0.0
        cached_price = pricing.cached_input_per_million
        write_price = pricing.cache_write_per_million
        cost = usage.uncached_prompt_tokens * input_price
        cost += usage.cached_tokens * (input_price if cached_price is None else cached_price)
        write_1h_price = pricing.cache_write_1h_per_million
        write_price = input_price if write_price is None else write_price
        one_hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)  # a part, even after clamping
        cost += (usage.cache_write_tokens - one_hour) * write_price
        cost += one_hour * (write_price if write_1h_price is None else write_1h_price)
        cost += usage.completion_tokens * (pricing.output_per_million or 0.0)
        return round(cost / 1_000_000, 10)
