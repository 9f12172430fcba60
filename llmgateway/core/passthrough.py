"""Which OpenAI-only request fields may reach a provider untouched: refused, never dropped, when it cannot take them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmgateway.core.routing import Route
from llmgateway.errors import InvalidRequest
from llmgateway.providers.base import Provider


def check_passthrough(extra: Mapping[str, Any], provider: Provider, route: Route) -> None:
    """Raise a 400 naming the first field when `provider` cannot take OpenAI fields as they are."""
    if not extra or provider.accepts_openai_extras:
        return
    names = sorted(extra)
    listed = ", ".join(f"'{name}'" for name in names)
    raise InvalidRequest(
        f"{listed} cannot be passed to the '{route.provider}' provider that serves '{route.model_id}'; "
        "remove it or choose a model on an OpenAI-compatible provider.",
        param=names[0],
    )
