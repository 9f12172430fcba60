"""Which provider classes exist: the built-ins plus third-party ones from the `llmgateway.providers` entry point."""

from __future__ import annotations

import logging
from importlib import import_module
from importlib.metadata import entry_points

from llmgateway.providers.base import Provider

ENTRY_POINT_GROUP = "llmgateway.providers"

#: Built-in providers, registered through the same path as plugins: name -> "module:Class".
BUILTIN_PROVIDERS: dict[str, str] = {
    "openai": "llmgateway.providers.openai:OpenAIProvider",
    "anthropic": "llmgateway.providers.anthropic:AnthropicProvider",
    "cohere": "llmgateway.providers.cohere:CohereProvider",
    "huggingface": "llmgateway.providers.huggingface:HuggingFaceProvider",
}

log = logging.getLogger(__name__)


def _load(target: str) -> type[Provider]:
    module_name, _, attr = target.partition(":")
    cls = getattr(import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"{target} is not a Provider subclass")
    return cls


def available_provider_classes() -> dict[str, type[Provider]]:
    """Every provider class by lower-case name; a plugin may not shadow a built-in."""
    classes = {name: _load(target) for name, target in BUILTIN_PROVIDERS.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        name = ep.name.lower()
        if name in classes:
            continue
        try:
            cls = ep.load()
        except Exception:  # a broken plugin must not take the gateway down
            log.exception("could not load provider plugin %s", ep.name)
            continue
        if isinstance(cls, type) and issubclass(cls, Provider):
            classes[name] = cls
        else:
            log.error("provider plugin %s is not a Provider subclass", ep.name)
    return classes
