"""Which provider classes exist: the built-ins plus third-party ones from the `llmgateway.providers` entry point."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from llmgateway.errors import ConfigError
from llmgateway.providers.base import Provider

ENTRY_POINT_GROUP = "llmgateway.providers"

#: Built-in providers, registered through the same path as plugins: name -> "module:Class".
BUILTIN_PROVIDERS: dict[str, str] = {
    "openai": "llmgateway.providers.openai:OpenAIProvider",
    "anthropic": "llmgateway.providers.anthropic:AnthropicProvider",
    "cohere": "llmgateway.providers.cohere:CohereProvider",
    "huggingface": "llmgateway.providers.huggingface:HuggingFaceProvider",
}

#: Provider types a configuration may give a provider of its own name: `type: openai_compatible` and friends.
PROVIDER_TYPES: dict[str, str] = {
    "openai_compatible": "llmgateway.providers.openai_compatible:OpenAICompatibleProvider",
    "azure_openai": "llmgateway.providers.azure:AzureOpenAIProvider",
    **BUILTIN_PROVIDERS,  # a second account of a built-in (`openai-org2: {type: openai, …}`)
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


def named_provider_class(base: type[Provider], name: str) -> type[Provider]:
    """A subclass of `base` under a configured name; it infers no unprefixed model ids (the built-in does)."""
    return type(
        f"{base.__name__}[{name}]", (base,), {"name": name, "inferred_prefixes": (), "__module__": base.__module__}
    )


def configured_provider_classes(providers: Mapping[str, Any], source: str) -> dict[str, type[Provider]]:
    """Every provider class, with one class per configured provider that names a `type` (SPEC §10).

    A configured name that is neither a known provider nor given a type, or a built-in's name given another
    type, stops start-up with the key named.
    """
    classes = available_provider_classes()
    builtins = dict(classes)
    for name, cfg in providers.items():
        kind = getattr(cfg, "type", None)
        if kind is None:
            if name not in builtins:
                raise ConfigError(
                    source,
                    f"providers.{name}.type",
                    "unknown provider: give its type (openai_compatible or azure_openai)",
                )
            continue
        if name in builtins and kind != name:
            raise ConfigError(source, f"providers.{name}.type", f"'{name}' is a built-in provider's name")
        if name not in builtins:
            classes[name] = named_provider_class(_load(PROVIDER_TYPES[kind]), name)
    return classes
