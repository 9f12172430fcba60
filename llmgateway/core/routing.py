"""Model routing and the catalogue: mappings, then `provider.model` ids, then inference (SPEC §3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from llmgateway.config import ModelMapping
from llmgateway.core.balancing import DEFAULT_STRATEGY, Deployment
from llmgateway.core.pricing import PRICE_FIELDS, PriceList, pricing_from
from llmgateway.errors import ConfigError, ModelNotFound, ProviderNotFound
from llmgateway.providers.base import Provider
from llmgateway.providers.types import Pricing

MAX_MODEL_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Route:
    """Where a gateway model id goes: the provider, its model id, and what the gateway knows of it."""

    model_id: str
    provider: str
    provider_model: str
    display_name: str | None = None
    context_window: int | None = None
    capabilities: tuple[str, ...] | None = None
    pricing: Pricing = field(default_factory=Pricing)
    default_max_tokens: int | None = None
    #: A mapped model's deployments (the first is `provider`/`provider_model`), each with its own route.
    deployments: tuple[Deployment, ...] = ()
    deployment_routes: tuple[Route, ...] = ()
    strategy: str = DEFAULT_STRATEGY

    @property
    def deployment(self) -> str:
        """The name of the deployment this route sends to."""
        return f"{self.provider}/{self.provider_model}"

    def for_deployment(self, deployment: Deployment) -> Route:
        """The route to one of this model's deployments."""
        return self.deployment_routes[self.deployments.index(deployment)]

    def as_entry(self) -> dict[str, Any]:
        """The catalogue entry (list and detail) for this route; unknown values null."""
        return {
            "id": self.model_id,
            "object": "model",
            "provider": self.provider,
            "provider_model_id": self.provider_model,
            "display_name": self.display_name,
            "context_window": self.context_window,
            "capabilities": list(self.capabilities) if self.capabilities is not None else None,
            "pricing": {name: getattr(self.pricing, name) for name in PRICE_FIELDS},
        }


class ModelCatalogue:
    """Resolves model ids and lists what the gateway can route."""

    def __init__(
        self,
        mappings: Sequence[ModelMapping],
        provider_classes: Mapping[str, type[Provider]],
        enabled: Sequence[str],
        source: str = "the configuration",
    ) -> None:
        self._classes = {name.lower(): cls for name, cls in provider_classes.items()}
        self._enabled = [name for name in self._classes if name in set(enabled)]
        self._mappings: dict[str, Route] = {}
        for index, mapping in enumerate(mappings):
            for position, deployment in enumerate(mapping.deployments):
                if deployment.provider not in self._classes:
                    key = f"routing.model_mappings.{index}." + (
                        f"deployments.{position}.provider" if mapping.provider is None else "provider"
                    )
                    raise ConfigError(source, key, f"unknown provider '{deployment.provider}'")
            self._mappings[mapping.model_id.lower()] = self._mapped_route(mapping)

    def mapped(self) -> list[Route]:
        """Every mapped model's route (with its deployments)."""
        return list(self._mappings.values())

    def resolve(self, model_id: str) -> Route:
        """The route for a model id, or ModelNotFound (404)."""
        if not model_id or len(model_id) > MAX_MODEL_ID_LENGTH:
            raise ModelNotFound(param="model")
        mapped = self._mappings.get(model_id.lower())
        if mapped is not None:
            return mapped
        prefix, dot, rest = model_id.partition(".")
        if dot and rest and prefix.lower() in self._classes:
            return self._known_route(model_id, prefix.lower(), rest)
        for name in self._inference_order():
            if self._classes[name].infers(model_id):
                return self._known_route(model_id, name, model_id)
        raise ModelNotFound(f"The model '{model_id}' is not known to the gateway.", param="model")

    def entries(self) -> list[dict[str, Any]]:
        """Every mapped model plus each enabled provider's well-known models (as `provider.model`)."""
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        for route in self._mappings.values():
            seen.add(route.model_id.lower())
            out.append(route.as_entry())
        for name in self._enabled:
            for info in self._classes[name].known_models:
                model_id = f"{name}.{info.provider_model_id}"
                if model_id.lower() not in seen:
                    seen.add(model_id.lower())
                    out.append(self._known_route(model_id, name, info.provider_model_id).as_entry())
        return out

    def entries_for_provider(self, provider: str) -> list[dict[str, Any]]:
        name = provider.lower()
        if name not in self._classes:
            raise ProviderNotFound(f"The provider '{provider}' is not known to the gateway.")
        return [entry for entry in self.entries() if entry["provider"] == name]

    def _inference_order(self) -> list[str]:
        # Specific prefixes first; the catch-all `org/name` rule (HuggingFace) is tried last.
        return sorted(self._classes, key=lambda name: not self._classes[name].inferred_prefixes)

    def _known_route(self, model_id: str, provider: str, provider_model: str) -> Route:
        info = self._classes[provider].model_info(provider_model)
        if info is None:
            return Route(model_id, provider, provider_model)
        return Route(
            model_id,
            provider,
            provider_model,
            info.display_name,
            info.context_window,
            info.capabilities,
            self._with_cache_prices(provider, info.pricing),
            info.default_max_tokens,
        )

    def _with_cache_prices(self, provider: str, pricing: Pricing) -> Pricing:
        """Cached prices the entry leaves unset, from the provider's published ratios."""
        return PriceList.with_cache_defaults(pricing, self._classes[provider].cache_price_ratios())

    def _mapped_route(self, mapping: ModelMapping) -> Route:
        deployments = tuple(Deployment(d.provider, d.provider_model_id, d.weight) for d in mapping.deployments)
        routes = tuple(self._deployment_route(mapping, d) for d in deployments)
        return replace(routes[0], deployments=deployments, deployment_routes=routes, strategy=mapping.strategy)

    def _deployment_route(self, mapping: ModelMapping, deployment: Deployment) -> Route:
        base = self._known_route(mapping.model_id, deployment.provider, deployment.provider_model)
        pricing = base.pricing
        if mapping.pricing:
            pricing = self._with_cache_prices(deployment.provider, pricing_from(mapping.pricing))
        return Route(
            mapping.model_id,
            deployment.provider,
            deployment.provider_model,
            mapping.display_name or base.display_name,
            mapping.context_window or base.context_window,
            mapping.capabilities or base.capabilities,
            pricing,
            base.default_max_tokens,
        )
