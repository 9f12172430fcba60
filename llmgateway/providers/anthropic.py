"""Anthropic Messages API: chat completions (plain and streamed), translation only; no embeddings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from llmgateway.errors import GatewayError, ServerError
from llmgateway.providers.anthropic_wire import answer_parts, system_out, tool_fields, turns
from llmgateway.providers.base import Provider, classify_stream_error, token_count
from llmgateway.providers.chat_types import ToolCallDelta
from llmgateway.providers.http import UpstreamStream
from llmgateway.providers.sse import parse_sse
from llmgateway.providers.types import (
    ChatDelta,
    ChatRequest,
    ChatResponse,
    ChatStream,
    ModelInfo,
    NativeRequest,
    Pricing,
    Usage,
)

DEFAULT_VERSION = "2023-06-01"
#: The `NativeRequest.api` this provider sends as is: a Messages body from the gateway's /v1/messages surface.
NATIVE_API = "anthropic.messages"
#: Client headers a native request may carry to Anthropic (and to no other provider).
NATIVE_HEADERS = ("anthropic-beta",)
#: The budget sent when neither the caller, the configuration nor the catalogue names one (`max_tokens` is required).
FALLBACK_MAX_TOKENS = 4096
#: Catalogue budgets are the model's output limit, capped so an unbounded request stays within the gateway timeout.
_BUDGET_CAP = 8192

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
#: The HTTP status each error type stands for, to classify `error` events that arrive after a 200.
_STATUS_BY_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
#: Models that take `output_config.format` (native structured output); older ones get the forced-tool technique.
NATIVE_JSON_PREFIXES = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "claude-opus-4-5")
_PROMPT_TOKEN_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_ALIAS_SUFFIX = re.compile(r"-(\d{8}|latest|0)$")


#: Every Claude model calls tools and gives JSON-schema output (natively or through a forced tool); most see images.
RICH = ("completion", "tools", "vision", "json_schema")
NO_VISION = ("completion", "tools", "json_schema")


def _m(
    model_id: str,
    name: str,
    inp: float,
    out: float,
    max_output: int,
    read: float | None = None,
    write: float | None = None,
    caps: tuple[str, ...] = RICH,
) -> ModelInfo:
    pricing = Pricing(inp, out, read, write)
    return ModelInfo(model_id, name, 200000, caps, pricing, min(max_output, _BUDGET_CAP))


class AnthropicProvider(Provider):
    """api.anthropic.com: `/v1/messages` with `x-api-key` and a configurable `anthropic-version`."""

    name = "anthropic"
    default_base_url = "https://api.anthropic.com"
    api_key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    inferred_prefixes = ("claude-",)
    max_image_bytes = 5 * 1024 * 1024  # the Messages API's limit per image
    #: Cache reads cost 0.1x and (5-minute) cache writes 1.25x the input price, unless an entry names its own.
    cache_read_price_ratio = 0.1
    cache_write_price_ratio = 1.25
    cache_write_1h_price_ratio = 2.0
    #: USD per million input and output tokens. Source: Anthropic's pricing page
    #: (docs.anthropic.com/en/docs/about-claude/pricing, as published in November 2025).
    known_models = (
        _m("claude-3-haiku-20240307", "Claude 3 Haiku", 0.25, 1.25, 4096, read=0.03, write=0.3),
        _m("claude-3-sonnet-20240229", "Claude 3 Sonnet", 3.0, 15.0, 4096),
        _m("claude-3-opus-20240229", "Claude 3 Opus", 15.0, 75.0, 4096),
        _m("claude-3-5-sonnet-20240620", "Claude 3.5 Sonnet (06-2024)", 3.0, 15.0, 8192),
        _m("claude-3-5-sonnet-20241022", "Claude 3.5 Sonnet", 3.0, 15.0, 8192),
        _m("claude-3-5-haiku-20241022", "Claude 3.5 Haiku", 0.8, 4.0, 8192, caps=NO_VISION),
        _m("claude-3-7-sonnet-20250219", "Claude 3.7 Sonnet", 3.0, 15.0, 64000),
        _m("claude-sonnet-4-20250514", "Claude Sonnet 4", 3.0, 15.0, 64000),
        _m("claude-opus-4-20250514", "Claude Opus 4", 15.0, 75.0, 32000),
        _m("claude-opus-4-1-20250805", "Claude Opus 4.1", 15.0, 75.0, 32000),
        _m("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 3.0, 15.0, 64000),
        _m("claude-haiku-4-5-20251001", "Claude Haiku 4.5", 1.0, 5.0, 64000),
        _m("claude-opus-4-5-20251101", "Claude Opus 4.5", 5.0, 25.0, 64000),
    )

    # -- request building ---------------------------------------------------------------------
    def headers(self, request_id: str | None, request: ChatRequest | None = None) -> dict[str, str]:
        headers = {"anthropic-version": str(self.settings.options.get("version") or DEFAULT_VERSION)}
        if self.settings.api_key:
            headers["x-api-key"] = self.settings.api_key
        if request_id:
            headers["X-Request-ID"] = request_id
        native = native_of(request) if request is not None else None
        if native is not None:
            headers.update({k: v for k, v in native.headers.items() if k in NATIVE_HEADERS and v})
        return headers

    def messages_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The Messages body; its `json_tool` entry (popped before sending) says JSON comes through a forced tool.

        A native request (the gateway's own /v1/messages) is sent as the client wrote it: thinking blocks, their
        signatures and `cache_control` reach Anthropic untouched."""
        native = native_of(request)
        if native is not None:
            sent = {k: v for k, v in native.body.items() if k not in ("model", "stream")}
            return {**sent, "model": request.model, **({"stream": True} if stream else {}), "json_tool": False}
        self.check_images(request)
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": self.max_tokens(request),
            "messages": turns(request.messages),
        }
        rich, json_tool = tool_fields(request, native_json=self.has_native_json(request.model))
        body.update(rich)
        system = system_out(request.messages)
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.user:
            body["metadata"] = {"user_id": request.user}
        if stream:
            body["stream"] = True
        body["json_tool"] = json_tool
        return body

    @classmethod
    def has_native_json(cls, model: str) -> bool:
        """Whether the model takes `output_config.format` (Claude 4.5 and later; unknown models are assumed to)."""
        info = cls.model_info(model)
        return info is None or info.provider_model_id.startswith(NATIVE_JSON_PREFIXES)

    def max_tokens(self, request: ChatRequest) -> int:
        """The caller's budget, else the configured default, else the catalogue's for the model, else 4096."""
        if request.max_tokens is not None:
            return request.max_tokens
        configured = self.settings.options.get("default_max_tokens")
        if configured:
            return int(configured)
        info = self.model_info(request.model)
        return (info.default_max_tokens if info else None) or FALLBACK_MAX_TOKENS

    @classmethod
    def model_info(cls, model: str) -> ModelInfo | None:
        """The catalogue entry for an id, its `-latest`/`-0` alias or another snapshot of the same model."""
        stem = _ALIAS_SUFFIX.sub("", model)
        for info in cls.known_models:
            if info.provider_model_id == model:
                return info
        for info in cls.known_models:
            if re.fullmatch(re.escape(stem) + r"-\d{8}", info.provider_model_id):
                return info
        return None

    # -- operations ---------------------------------------------------------------------------
    def chat(self, request: ChatRequest) -> ChatResponse:
        body = self.messages_body(request, stream=False)
        json_tool = body.pop("json_tool")
        reply = self.transport.post(f"{self.base_url}/v1/messages", body, self.headers(request.request_id, request))
        data = self.checked_json(reply)
        try:
            content, calls = answer_parts(data["content"], json_tool=json_tool)
            finish = finish_reason(data.get("stop_reason"))
            return ChatResponse(
                content=content,
                finish_reason="stop" if json_tool and finish == "tool_calls" else finish,
                usage=usage(data.get("usage")),
                provider_response_id=data.get("id") or None,
                tool_calls=calls,
                native=data if is_native(request) else None,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ServerError(f"The {self.name} provider sent an answer the gateway cannot read.") from exc

    def stream_chat(self, request: ChatRequest) -> ChatStream:
        body = self.messages_body(request, stream=True)
        json_tool = body.pop("json_tool")
        return self.open_chat_stream(
            f"{self.base_url}/v1/messages",
            body,
            self.headers(request.request_id, request),
            lambda upstream, stream: self._relay(upstream, stream, json_tool, native=is_native(request)),
        )

    # -- answer reading -----------------------------------------------------------------------
    def _relay(
        self, upstream: UpstreamStream, stream: ChatStream, json_tool: bool = False, *, native: bool = False
    ) -> Iterator[ChatDelta]:
        """Events until `message_stop`; input tokens come from `message_start`, output from the last
        `message_delta` (its counts are cumulative, so they replace earlier ones and are never added).

        Each `tool_use` block becomes one OpenAI tool call numbered from 0 in order (not the block index);
        in forced-tool JSON mode its input fragments are the answer's text instead. In native mode every event
        also rides on a delta as it came (`ChatDelta.native`), pings and thinking blocks included."""
        counts: dict[str, Any] = {}
        calls: dict[Any, int] = {}  # Anthropic block index -> OpenAI tool-call index
        for event in parse_sse(upstream.lines()):
            data = self.event_json(event.data)
            kind = str(data.get("type") or event.event or "")
            if kind == "error":
                raise self.stream_error(data)
            delta = self._delta(kind, data, counts, calls, json_tool)
            if kind in ("message_start", "message_delta"):
                stream.usage_so_far = usage(counts)  # input and cache counts are final from message_start on
            if native:
                yield replace(delta or ChatDelta(), native=(kind, data))
            elif delta is not None:
                yield delta
            if kind == "message_stop":
                stream.usage = usage(counts)
                return
        raise ServerError(f"The {self.name} stream ended before it was complete.")

    @staticmethod
    def _delta(
        kind: str, data: dict[str, Any], counts: dict[str, Any], calls: dict[Any, int], json_tool: bool
    ) -> ChatDelta | None:
        """The neutral delta one event stands for, if any; usage counts are gathered into `counts`."""
        if kind == "message_start":
            counts.update((data.get("message") or {}).get("usage") or {})
            return ChatDelta(role="assistant")
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use" and not json_tool:
                call = calls[data.get("index")] = len(calls)
                return ChatDelta(tool_calls=(ToolCallDelta(call, block.get("id"), block.get("name")),))
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "input_json_delta":
                fragment = delta.get("partial_json")
                if fragment and json_tool:
                    return ChatDelta(content=fragment)
                if fragment and data.get("index") in calls:
                    return ChatDelta(tool_calls=(ToolCallDelta(calls[data["index"]], arguments=fragment),))
            elif delta.get("text"):
                return ChatDelta(content=delta["text"])
        elif kind == "message_delta":
            counts.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            finish = finish_reason((data.get("delta") or {}).get("stop_reason"))
            if json_tool and finish == "tool_calls":
                finish = "stop"
            if finish:
                return ChatDelta(finish_reason=finish)
        return None

    def stream_error(self, data: dict[str, Any]) -> GatewayError:
        """An `error` event after the stream began, classified like the status its type stands for."""
        error: dict[str, Any] = data["error"] if isinstance(data.get("error"), dict) else {}
        status = _STATUS_BY_ERROR_TYPE.get(str(error.get("type")), 500)
        return classify_stream_error(self.name, status, error.get("message"))


def native_of(request: ChatRequest) -> NativeRequest | None:
    """The request's native Messages body, when it has one this provider can send as is."""
    native = request.native
    return native if native is not None and native.api == NATIVE_API else None


def is_native(request: ChatRequest) -> bool:
    return native_of(request) is not None


def finish_reason(value: str | None) -> str | None:
    """OpenAI's word for a `stop_reason`; an unknown future reason reads as a normal stop."""
    return FINISH_REASONS.get(value, "stop") if value else None


def usage(raw: Any) -> Usage | None:
    """Prompt tokens are input plus cache creation plus cache read tokens (all three are billed); thinking
    tokens (`output_tokens_details.thinking_tokens`, when sent) are part of `output_tokens`."""
    if not isinstance(raw, dict) or "output_tokens" not in raw:
        return None
    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    by_ttl: dict[str, Any] = raw["cache_creation"] if isinstance(raw.get("cache_creation"), dict) else {}
    try:
        prompt = sum(token_count(raw.get(key)) for key in _PROMPT_TOKEN_FIELDS)
        return Usage(
            prompt,
            token_count(raw.get("output_tokens")),
            cached_tokens=token_count(raw.get("cache_read_input_tokens")),
            cache_write_tokens=token_count(raw.get("cache_creation_input_tokens")),
            reasoning_tokens=token_count(thinking),
            cache_write_1h_tokens=token_count(by_ttl.get("ephemeral_1h_input_tokens")),
        )
    except (TypeError, ValueError):
        return None
