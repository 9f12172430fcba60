"""Fallback rules (SPEC §2, §5): for a requested model, which other models may answer, and on which errors."""

from __future__ import annotations

from dataclasses import dataclass

from llmgateway.config import DEFAULT_FALLBACK_CODES, FallbackConfig
from llmgateway.core.routing import ModelCatalogue, Route
from llmgateway.errors import ConfigError, GatewayError


@dataclass(frozen=True, slots=True)
class FallbackPlan:
    """The routes to try in order (the requested one first) and the error codes that move to the next."""

    routes: tuple[Route, ...]
    codes: frozenset[str]

    def falls_back_on(self, error: GatewayError) -> bool:
        return error.code in self.codes


class FallbackPolicy:
    """Rules resolved once through the catalogue at start-up, so a fallback may cross providers."""

    def __init__(self, config: FallbackConfig, catalogue: ModelCatalogue, source: str = "the configuration") -> None:
        self._fallbacks: dict[str, tuple[tuple[Route, ...], frozenset[str]]] = {}
        if not config.enabled:
            return
        for index, rule in enumerate(config.rules):
            routes = []
            for model_id in rule.fallback_models:
                try:
                    routes.append(catalogue.resolve(model_id))
                except GatewayError as exc:
                    raise ConfigError(
                        source, f"fallbacks.rules.{index}.fallback_models", f"the model '{model_id}' is not known"
                    ) from exc
            self._fallbacks[rule.model_id.lower()] = (tuple(routes), frozenset(rule.error_codes))

    def plan(self, route: Route) -> FallbackPlan:
        """The requested route followed by its rule's fallbacks (none when no rule names the model)."""
        fallbacks, codes = self._fallbacks.get(route.model_id.lower(), ((), frozenset(DEFAULT_FALLBACK_CODES)))
        return FallbackPlan((route, *(r for r in fallbacks if r != route)), codes)
