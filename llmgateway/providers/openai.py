"""OpenAI: chat completions (plain and streamed) and embeddings, translation only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from llmgateway.errors import GatewayError, ServerError
from llmgateway.providers import openai_responses
from llmgateway.providers.base import Provider, token_count
from llmgateway.providers.chat_types import ToolCallDelta
from llmgateway.providers.http import UpstreamStream
from llmgateway.providers.openai_wire import message_out, rich_fields, tool_call_deltas_in, tool_calls_in
from llmgateway.providers.sse import parse_sse
from llmgateway.providers.types import (
    ChatChoice,
    ChatDelta,
    ChatRequest,
    ChatResponse,
    ChatStream,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    ModelInfo,
    NativeRequest,
    Pricing,
    Usage,
)

#: Tools, image input and JSON-schema output: what the current chat models have.
RICH = ("completion", "tools", "vision", "json_schema")


def _m(
    model_id: str,
    name: str,
    window: int,
    inp: float,
    out: float,
    cached: float | None = None,
    caps: tuple[str, ...] = ("completion",),
) -> ModelInfo:
    return ModelInfo(model_id, name, window, caps, Pricing(inp, out, cached))


class OpenAIProvider(Provider):
    """The OpenAI REST API (and, through subclasses, OpenAI-compatible upstreams)."""

    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    accepts_openai_extras = True
    inferred_prefixes: ClassVar[tuple[str, ...]] = ("gpt-", "o1", "o3", "o4", "text-embedding-", "chatgpt-")
    #: The field the upstream reads the completion budget from (`max_tokens` is deprecated at OpenAI).
    #: the request field for the answer budget (an instance may override it: openai_compatible's option)
    max_tokens_field: str = "max_completion_tokens"
    #: Where chat completions live below the base URL (OpenAI's base URL already ends in /v1).
    chat_path: ClassVar[str] = "/chat/completions"
    #: Where the Responses API lives, for native /v1/responses requests; None for upstreams without it.
    responses_path: ClassVar[str | None] = "/responses"
    #: Cached input is 0.5x input unless the model's entry names its own price (newer families discount more).
    cache_read_price_ratio = 0.5
    #: USD per million tokens: input, output, cached input. Source: OpenAI's API pricing page
    #: (openai.com/api/pricing, standard tier, as published in November 2025).
    known_models: ClassVar[tuple[ModelInfo, ...]] = (
        _m("gpt-5.1", "GPT-5.1", 400000, 1.25, 10.0, 0.125, RICH),
        _m("gpt-5", "GPT-5", 400000, 1.25, 10.0, 0.125, RICH),
        _m("gpt-5-mini", "GPT-5 mini", 400000, 0.25, 2.0, 0.025, RICH),
        _m("gpt-5-nano", "GPT-5 nano", 400000, 0.05, 0.4, 0.005, RICH),
        _m("gpt-5-chat-latest", "GPT-5 Chat", 128000, 1.25, 10.0, 0.125, RICH),
        _m("gpt-5-pro", "GPT-5 pro", 400000, 15.0, 120.0, caps=RICH),
        _m("gpt-4o", "GPT-4o", 128000, 2.5, 10.0, 1.25, RICH),
        _m("gpt-4o-mini", "GPT-4o mini", 128000, 0.15, 0.6, 0.075, RICH),
        _m("gpt-4.1", "GPT-4.1", 1047576, 2.0, 8.0, 0.5, RICH),
        _m("gpt-4.1-mini", "GPT-4.1 mini", 1047576, 0.4, 1.6, 0.1, RICH),
        _m("gpt-4.1-nano", "GPT-4.1 nano", 1047576, 0.1, 0.4, 0.025, RICH),
        _m("gpt-4-turbo", "GPT-4 Turbo", 128000, 10.0, 30.0, caps=("completion", "tools", "vision")),
        _m("gpt-4", "GPT-4", 8192, 30.0, 60.0, caps=("completion", "tools")),
        _m("gpt-3.5-turbo", "GPT-3.5 Turbo", 16385, 0.5, 1.5, caps=("completion", "tools")),
        _m("o1", "o1", 200000, 15.0, 60.0, 7.5, RICH),
        _m("o1-mini", "o1-mini", 128000, 1.1, 4.4, 0.55),
        _m("o1-pro", "o1-pro", 200000, 150.0, 600.0, caps=RICH),
        _m("o3", "o3", 200000, 2.0, 8.0, 0.5, RICH),
        _m("o3-pro", "o3-pro", 200000, 20.0, 80.0, caps=RICH),
        _m("o3-mini", "o3-mini", 200000, 1.1, 4.4, 0.55, ("completion", "tools", "json_schema")),
        _m("o4-mini", "o4-mini", 200000, 1.1, 4.4, 0.275, RICH),
        _m("text-embedding-3-small", "Text Embedding 3 Small", 8191, 0.02, 0.0, caps=("embedding",)),
        _m("text-embedding-3-large", "Text Embedding 3 Large", 8191, 0.13, 0.0, caps=("embedding",)),
        _m("text-embedding-ada-002", "Text Embedding Ada 002", 8191, 0.1, 0.0, caps=("embedding",)),
    )

    # -- request building ---------------------------------------------------------------------
    def headers(self, request_id: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.settings.api_key}"} if self.settings.api_key else {}
        headers.update(self.correlation_headers(request_id))
        return headers

    def chat_url(self, model: str) -> str:
        """Where chat completions for `model` are sent (Azure names the model in the URL)."""
        return f"{self.base_url}{self.chat_path}"

    def embeddings_url(self, model: str) -> str:
        """Where embeddings for `model` are sent."""
        return f"{self.base_url}/embeddings"

    def chat_body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.extra)
        body["model"] = request.model
        body["messages"] = [self.message_out(m) for m in request.messages]
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body[self.max_tokens_field] = request.max_tokens
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop"] = list(request.stop)
        if request.user:
            body["user"] = request.user
        body.update(self.rich_fields(request))
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return body

    def message_out(self, message: Message) -> dict[str, Any]:
        """One message in this upstream's shape (TGI overrides it)."""
        return message_out(message)

    def rich_fields(self, request: ChatRequest) -> dict[str, Any]:
        """Tools, tool choice and response format in this upstream's shape."""
        self.check_images(request)
        return rich_fields(request)

    # -- operations ---------------------------------------------------------------------------
    def native_responses(self, request: ChatRequest) -> NativeRequest | None:
        """The /v1/responses body to send as is, when this upstream has the Responses API."""
        return openai_responses.native_of(request) if self.responses_path else None

    def chat(self, request: ChatRequest) -> ChatResponse:
        native = self.native_responses(request)
        if native is not None:
            body = openai_responses.responses_body(native, request.model, stream=False)
            data = self.checked_json(
                self.transport.post(f"{self.base_url}{self.responses_path}", body, self.headers(request.request_id))
            )
            return openai_responses.answer(data)
        reply = self.transport.post(
            self.chat_url(request.model), self.chat_body(request, stream=False), self.headers(request.request_id)
        )
        data = self.checked_json(reply)
        try:
            first, *others = [self.choice_of(choice) for choice in data["choices"]]
            return ChatResponse(
                content=first.content,
                finish_reason=first.finish_reason,
                usage=self.usage(data.get("usage")),
                provider_response_id=data.get("id") or None,
                tool_calls=first.tool_calls,
                logprobs=first.logprobs,
                more_choices=tuple(others),
            )
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise ServerError(f"The {self.name} provider sent an answer the gateway cannot read.") from exc

    def choice_of(self, choice: dict[str, Any]) -> ChatChoice:
        message = choice.get("message") or {}
        tool_calls = tool_calls_in(message)
        return ChatChoice(
            index=int(choice.get("index") or 0),
            content=message.get("content"),
            finish_reason=self.answer_finish(choice.get("finish_reason"), bool(tool_calls)),
            tool_calls=tool_calls,
            logprobs=choice.get("logprobs"),
        )

    def stream_chat(self, request: ChatRequest) -> ChatStream:
        native = self.native_responses(request)
        if native is not None:
            return self.open_chat_stream(
                f"{self.base_url}{self.responses_path}",
                openai_responses.responses_body(native, request.model, stream=True),
                self.headers(request.request_id),
                lambda upstream, stream: openai_responses.relay(self, upstream.lines(), stream),
            )
        return self.open_chat_stream(
            self.chat_url(request.model),
            self.chat_body(request, stream=True),
            self.headers(request.request_id),
            self._relay,
        )

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        body: dict[str, Any] = {"model": request.model, "input": list(request.inputs), "encoding_format": "float"}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if request.user:
            body["user"] = request.user
        reply = self.transport.post(self.embeddings_url(request.model), body, self.headers(request.request_id))
        data = self.checked_json(reply)
        try:
            items = sorted(data["data"], key=lambda item: item["index"])
            vectors = [item["embedding"] for item in items]
            usage = data.get("usage") or {}
            prompt = token_count(usage.get("prompt_tokens"))
            return EmbeddingResponse(vectors, Usage(prompt, 0) if usage else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise ServerError(f"The {self.name} provider sent embeddings the gateway cannot read.") from exc

    # -- answer reading -----------------------------------------------------------------------
    def _relay(self, upstream: UpstreamStream, stream: ChatStream) -> Iterator[ChatDelta]:
        saw_tool_calls: set[int] = set()  # choices that made tool calls
        opened: dict[int, set[int]] = {}  # per choice, tool-call indexes whose first piece (id, name) was relayed
        for event in parse_sse(upstream.lines()):
            if event.data.startswith("[DONE]"):
                return
            chunk = self.event_json(event.data)
            if event.event == "error" or "error" in chunk:
                raise self.stream_error(chunk)
            if chunk.get("usage"):
                stream.usage = self.usage(chunk["usage"])
            for choice in chunk.get("choices") or ():
                index = int(choice.get("index") or 0)
                delta = choice.get("delta") or {}
                calls: tuple[ToolCallDelta, ...] = ()
                if delta.get("tool_calls"):
                    calls = self.first_pieces_only(tool_call_deltas_in(delta), opened.setdefault(index, set()))
                    saw_tool_calls.add(index)
                finish = self.answer_finish(choice.get("finish_reason"), index in saw_tool_calls)
                logprobs = choice.get("logprobs")
                if delta.get("content") or delta.get("role") or finish or calls or logprobs:
                    yield ChatDelta(delta.get("content") or None, delta.get("role"), finish, calls, index, logprobs)
        raise ServerError(f"The {self.name} stream ended before it was complete.")

    @staticmethod
    def first_pieces_only(deltas: tuple[ToolCallDelta, ...], opened: set[int]) -> tuple[ToolCallDelta, ...]:
        """OpenAI's shape: id and name only in a call's first piece (TGI repeats them in every chunk)."""
        out = []
        for delta in deltas:
            if delta.index in opened:
                if delta.id or delta.name:
                    delta = ToolCallDelta(delta.index, arguments=delta.arguments)
            else:
                opened.add(delta.index)
            out.append(delta)
        return tuple(out)

    def stream_error(self, chunk: dict[str, Any]) -> GatewayError:
        """An error event that arrived after the stream began."""
        return ServerError(f"The {self.name} provider failed mid-stream.")

    def finish_reason(self, value: str | None) -> str | None:
        return value or None

    def answer_finish(self, value: str | None, has_tool_calls: bool) -> str | None:
        """The finish reason; upstreams that report `stop` for an answer with tool calls (TGI) get `tool_calls`."""
        finish = self.finish_reason(value)
        return "tool_calls" if has_tool_calls and finish == "stop" else finish

    @staticmethod
    def usage(raw: Any) -> Usage | None:
        """`CompletionUsage`: cached (and cache-write) tokens are parts of `prompt_tokens`, reasoning tokens part
        of `completion_tokens` (OpenAI, the HF router and OpenAI-compatible servers alike)."""
        if not isinstance(raw, dict):
            return None
        prompt_details = _details(raw, "prompt_tokens_details")
        completion_details = _details(raw, "completion_tokens_details")
        try:
            return Usage(
                token_count(raw.get("prompt_tokens")),
                token_count(raw.get("completion_tokens")),
                cached_tokens=token_count(prompt_details.get("cached_tokens")),
                cache_write_tokens=token_count(prompt_details.get("cache_write_tokens")),
                reasoning_tokens=token_count(completion_details.get("reasoning_tokens")),
            )
        except (TypeError, ValueError):
            return None


def _details(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """A `*_tokens_details` object; absent or null (as many compatible servers send) reads as empty."""
    details = raw.get(name)
    return details if isinstance(details, dict) else {}
