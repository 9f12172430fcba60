"""Cohere API v2: chat (plain and streamed) and embeddings, translation only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from llmgateway.errors import GatewayError, GatewayTimeout, ServerError
from llmgateway.providers.base import Provider, token_count
from llmgateway.providers.chat_types import ToolCallDelta
from llmgateway.providers.cohere_wire import answer_parts, message_out, rich_fields, stream_tool_call
from llmgateway.providers.http import HttpReply, UpstreamStream
from llmgateway.providers.sse import parse_sse
from llmgateway.providers.types import (
    ChatDelta,
    ChatRequest,
    ChatResponse,
    ChatStream,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelInfo,
    Pricing,
    Usage,
)

FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}
#: Cohere's `p` must lie in [0.01, 0.99]; an OpenAI-style top_p of 1.0 (or 0) is moved to the nearest bound.
P_RANGE = (0.01, 0.99)
#: `/v2/embed` takes at most 96 texts per call; larger inputs are sent in batches.
EMBED_BATCH = 96
#: Cohere's non-standard statuses, read as the standard ones they stand for: 498 is an invalid or
#: deny-listed token (the gateway's credentials), 499 a request cancelled upstream (not the caller's fault).
_STATUS_ALIASES = {498: 401, 499: 500}


TOOLS_JSON = ("completion", "tools", "json_schema")


def _m(
    model_id: str, name: str, window: int, inp: float, out: float | None, caps: tuple[str, ...] = ("completion",)
) -> ModelInfo:
    return ModelInfo(model_id, name, window, caps, Pricing(inp, out))


class CohereProvider(Provider):
    """api.cohere.com: `/v2/chat` and `/v2/embed` with a bearer token."""

    name = "cohere"
    default_base_url = "https://api.cohere.com"
    api_key_env = "COHERE_API_KEY"
    base_url_env = "COHERE_BASE_URL"
    inferred_prefixes = ("command", "embed-")
    #: USD per million billed input and output tokens; Cohere publishes no cached-token price (ratio 1.0).
    #: Source: Cohere's pricing page (cohere.com/pricing, as published in November 2025).
    known_models = (
        _m("command-a-03-2025", "Command A", 256000, 2.5, 10.0, TOOLS_JSON),
        _m("command-a-vision-07-2025", "Command A Vision", 128000, 2.5, 10.0, ("completion", "vision", "json_schema")),
        _m("command-r-plus-08-2024", "Command R+ (08-2024)", 128000, 2.5, 10.0, TOOLS_JSON),
        _m("command-r-plus", "Command R+", 128000, 3.0, 15.0, TOOLS_JSON),
        _m("command-r-08-2024", "Command R (08-2024)", 128000, 0.15, 0.6, TOOLS_JSON),
        _m("command-r", "Command R", 128000, 0.5, 1.5, TOOLS_JSON),
        _m("command-r7b-12-2024", "Command R7B", 128000, 0.0375, 0.15, TOOLS_JSON),
        _m("command", "Command", 4096, 1.0, 2.0),
        _m("command-light", "Command Light", 4096, 0.3, 0.6),
        _m("embed-v4.0", "Embed v4.0", 128000, 0.12, None, ("embedding",)),
        _m("embed-english-v3.0", "Embed English v3.0", 512, 0.1, None, ("embedding",)),
        _m("embed-multilingual-v3.0", "Embed Multilingual v3.0", 512, 0.1, None, ("embedding",)),
        _m("embed-english-light-v3.0", "Embed English Light v3.0", 512, 0.1, None, ("embedding",)),
        _m("embed-multilingual-light-v3.0", "Embed Multilingual Light v3.0", 512, 0.1, None, ("embedding",)),
    )

    # -- request building ---------------------------------------------------------------------
    def headers(self, request_id: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.settings.api_key}"} if self.settings.api_key else {}
        if request_id:
            headers["X-Request-ID"] = request_id
        return headers

    def chat_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """Cohere has `p` where OpenAI has `top_p`, no top-k from us, and no field for `user`."""
        self.check_images(request)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [message_out(m) for m in request.messages],
        }
        body.update(rich_fields(request))
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.top_p is not None:
            body["p"] = min(max(request.top_p, P_RANGE[0]), P_RANGE[1])
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if stream:
            body["stream"] = True
        return body

    # -- operations ---------------------------------------------------------------------------
    def chat(self, request: ChatRequest) -> ChatResponse:
        reply = self.transport.post(
            f"{self.base_url}/v2/chat", self.chat_body(request, stream=False), self.headers(request.request_id)
        )
        data = self.checked_json(reply)
        try:
            content, calls = answer_parts(data["message"])
            answer_usage = usage(data.get("usage"))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ServerError(f"The {self.name} provider sent an answer the gateway cannot read.") from exc
        return ChatResponse(
            content=content,
            finish_reason=self.finish_reason(data.get("finish_reason")),
            usage=answer_usage,
            provider_response_id=data.get("id") or None,
            tool_calls=calls,
        )

    def stream_chat(self, request: ChatRequest) -> ChatStream:
        return self.open_chat_stream(
            f"{self.base_url}/v2/chat",
            self.chat_body(request, stream=True),
            self.headers(request.request_id),
            self._relay,
        )

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        vectors: list[list[float]] = []
        usages: list[Usage | None] = []
        for start in range(0, len(request.inputs), EMBED_BATCH):
            batch_vectors, batch_usage = self._embed_batch(request, request.inputs[start : start + EMBED_BATCH])
            vectors.extend(batch_vectors)
            usages.append(batch_usage)
        known = [u.prompt_tokens for u in usages if u is not None]
        return EmbeddingResponse(vectors, Usage(sum(known)) if len(known) == len(usages) else None)

    def _embed_batch(self, request: EmbeddingRequest, texts: tuple[str, ...]) -> tuple[list[list[float]], Usage | None]:
        body: dict[str, Any] = {
            "model": request.model,
            "texts": list(texts),
            "input_type": request.input_type or "search_document",
            "embedding_types": ["float"],
        }
        if request.dimensions is not None:
            body["output_dimension"] = request.dimensions
        data = self.checked_json(
            self.transport.post(f"{self.base_url}/v2/embed", body, self.headers(request.request_id))
        )
        try:
            vectors = data["embeddings"]["float"]
            if not isinstance(vectors, list) or len(vectors) != len(texts):
                raise ValueError("one vector per text expected")
            billed = ((data.get("meta") or {}).get("billed_units") or {}).get("input_tokens")
            return vectors, Usage(token_count(billed)) if billed is not None else None
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ServerError(f"The {self.name} provider sent embeddings the gateway cannot read.") from exc

    # -- answer reading -----------------------------------------------------------------------
    def _relay(self, upstream: UpstreamStream, stream: ChatStream) -> Iterator[ChatDelta]:
        """Hyphenated events until `message-end`, which alone carries usage; a trailing `[DONE]` is optional.

        Tool calls are renumbered from 0 in the order they start; `tool-plan-delta` is reasoning and is dropped."""
        calls: dict[Any, int] = {}  # Cohere's index -> OpenAI tool-call index
        for event in parse_sse(upstream.lines()):
            if event.data.startswith("[DONE]"):
                break
            data = self.event_json(event.data)
            kind = data.get("type") or event.event
            delta: dict[str, Any] = data["delta"] if isinstance(data.get("delta"), dict) else {}
            if kind == "message-start":
                yield ChatDelta(role="assistant")
            elif kind == "content-delta":
                text = _content_text(delta)
                if text:
                    yield ChatDelta(content=text)
            elif kind == "tool-call-start":
                call = stream_tool_call(delta)
                index = calls[data.get("index")] = len(calls)
                function = call.get("function") or {}
                yield ChatDelta(
                    tool_calls=(
                        ToolCallDelta(index, call.get("id"), function.get("name"), function.get("arguments") or ""),
                    )
                )
            elif kind == "tool-call-delta":
                fragment = (stream_tool_call(delta).get("function") or {}).get("arguments")
                if fragment and data.get("index") in calls:
                    yield ChatDelta(tool_calls=(ToolCallDelta(calls[data["index"]], arguments=fragment),))
            elif kind == "message-end":
                stream.usage = usage(delta.get("usage"))
                finish = self.finish_reason(delta.get("finish_reason"))
                if finish:
                    yield ChatDelta(finish_reason=finish)
                return
        raise ServerError(f"The {self.name} stream ended before it was complete.")

    def finish_reason(self, value: str | None) -> str | None:
        """OpenAI's word for a finish reason; ERROR and TIMEOUT are upstream failures, not finishes."""
        if value == "ERROR":
            raise ServerError(f"The {self.name} provider failed while generating.")
        if value == "TIMEOUT":
            raise GatewayTimeout(f"The {self.name} provider timed out while generating.")
        return FINISH_REASONS.get(value, "stop") if value else None

    def error_from(self, reply: HttpReply) -> GatewayError:
        """Errors are flat `{id, message}`; only the status says what kind."""
        status = _STATUS_ALIASES.get(reply.status)
        return super().error_from(replace(reply, status=status) if status else reply)


def _content_text(delta: dict[str, Any]) -> str | None:
    content = (delta.get("message") or {}).get("content")
    return content.get("text") if isinstance(content, dict) else None


def usage(raw: Any) -> Usage | None:
    """`billed_units` when present, else raw `tokens`; counts are JSON numbers and may be floats.

    The two differ: raw `tokens` include Cohere's own prompt scaffolding, `billed_units` are what the customer
    pays for. The ledger records cost, so billed units win. `cached_tokens` (prompt tokens that hit Cohere's
    cache) counts raw tokens, so it is capped at the billed prompt it is recorded as a part of; Cohere publishes
    no cached price, so it changes no cost.
    """
    if not isinstance(raw, dict):
        return None
    counts = raw.get("billed_units") or raw.get("tokens")
    if not isinstance(counts, dict):
        return None
    prompt = token_count(counts.get("input_tokens"))
    cached = token_count(raw.get("cached_tokens"))
    if _is_number(cached) and _is_number(prompt):
        cached = min(cached, prompt)
    try:
        return Usage(prompt, token_count(counts.get("output_tokens")), cached_tokens=cached)
    except (TypeError, ValueError):
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
