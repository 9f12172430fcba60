"""Azure OpenAI: OpenAI's chat and embeddings at Azure's deployment URLs, with its key header and error answers."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from llmgateway.errors import GatewayError, InvalidRequest, ModelNotFound
from llmgateway.providers.base import ProviderSettings
from llmgateway.providers.http import HttpReply, HttpTransport
from llmgateway.providers.openai_compatible import OpenAICompatibleProvider
from llmgateway.providers.types import ChatRequest

DEFAULT_API_VERSION = "2024-10-21"
#: Azure's codes for a prompt its content filter refused (the outer code, and the inner one older versions send).
CONTENT_FILTER_CODES = frozenset({"content_filter", "ResponsibleAIPolicyViolation"})


class AzureOpenAIProvider(OpenAICompatibleProvider):
    """`{base_url}/openai/deployments/{deployment}/chat/completions?api-version=…` with an `api-key` header.

    The provider model id is the Azure deployment name; the request body carries no `model` (the URL names it).
    """

    name = "azure_openai"
    #: Azure bills OpenAI's models with OpenAI's cached-input discount (0.5x; configure a model's own price).
    cache_read_price_ratio = 0.5
    requires_api_key: ClassVar[bool] = True
    max_tokens_field = "max_tokens"

    def __init__(self, settings: ProviderSettings, transport: HttpTransport | None = None) -> None:
        super().__init__(settings, transport)
        self.api_version = str(settings.options.get("api_version") or DEFAULT_API_VERSION)

    def headers(self, request_id: str | None) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self.settings.api_key:
            headers["api-key"] = self.settings.api_key
        headers.update(self.correlation_headers(request_id))
        return headers

    def chat_url(self, model: str) -> str:
        return self.deployment_url(model, "chat/completions")

    def embeddings_url(self, model: str) -> str:
        return self.deployment_url(model, "embeddings")

    def deployment_url(self, deployment: str, operation: str) -> str:
        """The URL of one operation (`chat/completions`, `embeddings`) on one Azure deployment."""
        return (
            f"{self.base_url}/openai/deployments/{quote(deployment, safe='')}/{operation}"
            f"?api-version={quote(self.api_version, safe='')}"
        )

    def chat_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body = super().chat_body(request, stream=stream)
        body.pop("model", None)  # the URL names the deployment
        return body

    def error_from(self, reply: HttpReply) -> GatewayError:
        data = reply.json()
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            inner: dict[str, Any] = error["innererror"] if isinstance(error.get("innererror"), dict) else {}
            codes = {error.get("code"), inner.get("code")}
            if codes & CONTENT_FILTER_CODES:
                return InvalidRequest(
                    f"The {self.name} provider's content filter refused the prompt.", param="messages"
                )
            if error.get("code") == "DeploymentNotFound":
                return ModelNotFound(f"The {self.name} provider has no such deployment.", param="model")
        return super().error_from(reply)
