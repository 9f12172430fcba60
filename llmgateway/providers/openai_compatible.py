"""Providers defined by configuration: any OpenAI-compatible endpoint (vLLM, Ollama, Groq, …) under its own name."""

from __future__ import annotations

from typing import Any, ClassVar

from llmgateway.providers.base import ProviderSettings
from llmgateway.providers.http import HttpTransport
from llmgateway.providers.openai import OpenAIProvider

#: Header names the configuration may not override: the transport and the provider own them.
RESERVED_HEADERS = frozenset({"content-length", "content-type", "host", "transfer-encoding"})


class OpenAICompatibleProvider(OpenAIProvider):
    """OpenAI's wire format at a configured base URL; the API key is optional and extra headers are sent as-is.

    The configured name (`providers.<name>`) is the provider's name: the registry makes one subclass per name,
    so routing, breakers, metrics and the catalogue treat it exactly like a built-in provider.
    """

    name = "openai_compatible"
    default_base_url = ""
    inferred_prefixes = ()  # only mapped or `name.model` ids reach a configured endpoint
    known_models = ()
    #: Self-hosted and third-party servers publish no common cached-token discount: configure one per model.
    cache_read_price_ratio = 1.0
    requires_api_key: ClassVar[bool] = False
    # Self-hosted servers (vLLM, Ollama, TGI's OpenAI route) read `max_tokens`; few know the newer field.
    max_tokens_field = "max_tokens"
    # Few compatible servers have OpenAI's Responses API: /v1/responses requests are translated to chat for them.
    responses_path: ClassVar[str | None] = None

    def __init__(self, settings: ProviderSettings, transport: HttpTransport | None = None) -> None:
        super().__init__(settings, transport)
        self.max_tokens_field = str(settings.options.get("max_tokens_field") or type(self).max_tokens_field)
        self.extra_headers = extra_headers(settings.options.get("headers"))

    def headers(self, request_id: str | None) -> dict[str, str]:
        headers = dict(self.extra_headers)
        headers.update(super().headers(request_id))
        return headers


def extra_headers(raw: Any) -> dict[str, str]:
    """Configured extra headers as strings, without those the transport must own."""
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v) for k, v in raw.items() if str(k).lower() not in RESERVED_HEADERS}
