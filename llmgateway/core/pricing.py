"""Cost of a call in USD from per-million-token prices (catalogue defaults, overridable in config)."""

from __future__ import annotations

from collections.abc import Mapping

from llmgateway.providers.types import Pricing, Usage


class PriceList:
    """Prices by gateway model id or `provider.model`; config overrides win over catalogue prices."""

    def __init__(self, overrides: Mapping[str, Mapping[str, float | None]] | None = None) -> None:
        self._overrides = {
            key.lower(): Pricing(value.get("input_per_million"), value.get("output_per_million"))
            for key, value in (overrides or {}).items()
        }

    def price_for(self, model_id: str, provider: str, provider_model: str, default: Pricing) -> Pricing:
        for key in (model_id.lower(), f"{provider}.{provider_model}".lower()):
            if key in self._overrides:
                return self._overrides[key]
        return default

    @staticmethod
    def cost(pricing: Pricing, usage: Usage | None) -> float:
        if usage is None:
            return 0.0
        cost = usage.prompt_tokens * (pricing.input_per_million or 0.0)
        cost += usage.completion_tokens * (pricing.output_per_million or 0.0)
        return round(cost / 1_000_000, 10)
