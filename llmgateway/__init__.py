"""llmgateway: one HTTP API in front of OpenAI, Anthropic, Cohere and HuggingFace."""

from llmgateway.app import create_app

__all__ = ["create_app"]
