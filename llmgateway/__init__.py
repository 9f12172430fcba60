"""llmgateway: one HTTP API in front of OpenAI, Anthropic, Cohere and HuggingFace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmgateway.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that importing one module of the package (the upstream client, in the
    # benchmark's floor) does not load the whole application.
    if name == "create_app":
        from llmgateway.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
