"""Hugging Face: the Inference Providers router or a self-hosted TGI, chat and embeddings, translation only."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from llmgateway.errors import (
    GatewayError,
    InvalidRequest,
    ModelNotFound,
    ServerError,
    ServiceUnavailable,
    UnsupportedOperation,
)
from llmgateway.providers.base import (
    classify_stream_error,
    classify_upstream_error,
    retry_after_seconds,
    upstream_error_details,
)
from llmgateway.providers.http import HttpReply
from llmgateway.providers.openai import OpenAIProvider
from llmgateway.providers.tgi_wire import tgi_message_out, tgi_rich_fields
from llmgateway.providers.types import ChatRequest, EmbeddingRequest, EmbeddingResponse, Message, ModelInfo

#: TGI reports a matched stop sequence (and `/generate` an end-of-sequence) in its own words.
FINISH_REASONS = {"stop_sequence": "stop", "eos_token": "stop"}


TOOLS_JSON = ("completion", "tools", "json_schema")


def _m(model_id: str, window: int, caps: tuple[str, ...] = ("completion",)) -> ModelInfo:
    return ModelInfo(model_id, model_id.partition("/")[2], window, caps)


class HuggingFaceProvider(OpenAIProvider):
    """router.huggingface.co (or a TGI host given as base URL): `/v1/chat/completions` plus hf-inference embeddings."""

    name = "huggingface"
    default_base_url = "https://router.huggingface.co"
    api_key_env = "HUGGINGFACE_API_KEY"
    base_url_env = "HUGGINGFACE_BASE_URL"
    inferred_prefixes = ()
    max_tokens_field = "max_tokens"
    chat_path = "/v1/chat/completions"
    responses_path = None  # native /v1/responses requests go to OpenAI only; here they are translated
    #: The router's providers publish their own prices; the gateway assumes no cache discount unless configured.
    cache_read_price_ratio = 1.0
    known_models = (
        _m("meta-llama/Llama-3.1-8B-Instruct", 131072, TOOLS_JSON),
        _m("meta-llama/Llama-3.3-70B-Instruct", 131072, TOOLS_JSON),
        _m("mistralai/Mistral-7B-Instruct-v0.3", 32768, ("completion", "tools")),
        _m("Qwen/Qwen2.5-72B-Instruct", 32768, TOOLS_JSON),
        _m("Qwen/Qwen2.5-VL-7B-Instruct", 32768, ("completion", "vision", "json_schema")),
        _m("sentence-transformers/all-MiniLM-L6-v2", 256, ("embedding",)),
        _m("BAAI/bge-large-en-v1.5", 512, ("embedding",)),
    )

    @classmethod
    def infers(cls, model_id: str) -> bool:
        """Hub ids look like `org/name` (optionally `org/name:provider`)."""
        org, slash, rest = model_id.partition("/")
        return bool(org and slash and rest) and "/" not in rest

    def chat_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """As OpenAI, but TGI rejects a top_p outside 0 < p < 1 (422), so such a value is dropped: 1.0 or more
        means no nucleus filtering, which is what omitting it does; 0 or less has no meaning TGI accepts."""
        body = super().chat_body(request, stream=stream)
        top_p = body.get("top_p")
        if isinstance(top_p, (int, float)) and not 0 < top_p < 1:
            del body["top_p"]
        return body

    def finish_reason(self, value: str | None) -> str | None:
        return FINISH_REASONS.get(value, value) if value else None

    @property
    def is_tgi(self) -> bool:
        """A self-hosted TGI server (config `providers.huggingface.server: tgi`) rather than the router."""
        return str(self.settings.options.get("server") or "router").lower() == "tgi"

    def message_out(self, message: Message) -> dict[str, Any]:
        """TGI reads a message with `content` as plain text and drops its tool calls, and has no image `detail`."""
        if not self.is_tgi:
            return super().message_out(message)
        return tgi_message_out(message)

    def rich_fields(self, request: ChatRequest) -> dict[str, Any]:
        if not self.is_tgi:
            return super().rich_fields(request)
        if request.tools and self.settings.options.get("tools") is False:
            raise UnsupportedOperation("This TGI server's model cannot call tools.", param="tools")
        return tgi_rich_fields(super().rich_fields(request), request)

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """hf-inference feature extraction: no usage is reported, so the gateway estimates it."""
        if request.dimensions is not None:
            raise InvalidRequest("Hugging Face feature extraction cannot change the dimensions.", param="dimensions")
        url = f"{self.base_url}/hf-inference/models/{quote(request.model, safe='/')}/pipeline/feature-extraction"
        reply = self.transport.post(url, {"inputs": list(request.inputs)}, self.headers(request.request_id))
        if reply.status != 200:
            raise self.error_from(reply)
        return EmbeddingResponse(self._vectors(reply.json(), len(request.inputs)), None)

    def _vectors(self, data: Any, count: int) -> list[list[float]]:
        """A bare 2-D array, one row per input (a 1-D array for a single input is accepted too)."""
        if isinstance(data, list) and count == 1 and data and all(isinstance(x, (int, float)) for x in data):
            return [data]
        if (
            isinstance(data, list)
            and len(data) == count
            and all(isinstance(row, list) and row and isinstance(row[0], (int, float)) for row in data)
        ):
            return data
        raise ServerError(f"The {self.name} provider sent embeddings the gateway cannot read.")

    def stream_error(self, chunk: dict[str, Any]) -> GatewayError:
        """TGI reports mid-stream failures as `{"error": {"message", "http_status_code"}}`."""
        error = chunk.get("error")
        status = error.get("http_status_code") if isinstance(error, dict) else None
        message, _ = upstream_error_details(chunk)
        return classify_stream_error(self.name, status if isinstance(status, int) else 500, message)

    def error_from(self, reply: HttpReply) -> GatewayError:
        """Any of the Hub's error shapes; a model still loading (503 with `estimated_time`) is a 503 to retry."""
        data = reply.json()
        message, code = upstream_error_details(data)
        message = message or reply.headers.get("X-Error-Message")  # the Hub's header, when the body says nothing
        if (
            reply.status == 503
            and isinstance(data, dict)
            and ("estimated_time" in data or "loading" in (message or ""))
        ):
            estimate = data.get("estimated_time")
            retry_after = float(estimate) if isinstance(estimate, (int, float)) else retry_after_seconds(reply.headers)
            return ServiceUnavailable(
                f"The model is loading at {self.name}; try again shortly.", retry_after=retry_after
            )
        if reply.status == 400 and message and "not supported by any provider" in message:
            return ModelNotFound(f"The {self.name} provider does not serve this model: {message[:500]}")
        return classify_upstream_error(self.name, reply, message, upstream_code=code)
