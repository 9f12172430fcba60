"""Renders pipeline results as OpenAI-shaped JSON and SSE, shared by both HTTP surfaces."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from flask import Response

from llmgateway.core.completion_stream import CompletionStream
from llmgateway.core.results import CompletionResult, EmbeddingResult
from llmgateway.core.usage import UsageCall
from llmgateway.errors import GatewayError
from llmgateway.providers.chat_types import ToolCall, ToolCallDelta
from llmgateway.providers.openai_wire import tool_call_out
from llmgateway.providers.types import ChatDelta

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers, mimetype="application/json")


def gateway_headers(call: UsageCall) -> dict[str, str]:
    """X-LLMGateway-* headers describing who answered."""
    headers = {"X-LLMGateway-Cache": call.cache_status}
    if call.provider:
        headers["X-LLMGateway-Provider"] = call.provider
    if call.provider_model:
        headers["X-LLMGateway-Model"] = call.provider_model
        if call.provider:  # the deployment that answered, as GET /api/v1/admin/deployments names it
            headers["X-LLMGateway-Deployment"] = f"{call.provider}/{call.provider_model}"
    if call.fallback_from:
        headers["X-LLMGateway-Fallback"] = call.fallback_from
    return headers


def completion_body(result: CompletionResult, *, gateway_fields: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": result.id,
        "object": "chat.completion",
        "created": result.created,
        "model": result.model,
    }
    if gateway_fields:
        body.update(
            provider=result.provider,
            provider_model=result.provider_model,
            cached=result.cached,
            fallback_from=result.fallback_from,
        )
    body["choices"] = [
        _answer_choice(0, result.content, result.tool_calls, result.finish_reason, result.logprobs),
        *(_answer_choice(c.index, c.content, c.tool_calls, c.finish_reason, c.logprobs) for c in result.more_choices),
    ]
    body["usage"] = result.usage.as_dict()
    return body


def _answer_choice(
    index: int, content: str | None, tool_calls: tuple[ToolCall, ...], finish_reason: str | None, logprobs: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [tool_call_out(call) for call in tool_calls]
    return {"index": index, "message": message, "logprobs": logprobs, "finish_reason": finish_reason}


def embedding_body(result: EmbeddingResult, *, gateway_fields: bool = True, encoding: str = "float") -> dict[str, Any]:
    """The embedding list; `encoding="base64"` packs each vector as little-endian float32, as OpenAI does."""
    body: dict[str, Any] = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode_vector(v, encoding)}
            for i, v in enumerate(result.vectors)
        ],
        "model": result.model,
    }
    if gateway_fields:
        body["provider"] = result.provider
        body["cached"] = result.cached
    usage = result.usage
    body["usage"] = {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens}
    if usage.cost_usd is not None:
        body["usage"]["cost_usd"] = usage.cost_usd
    if usage.estimated:
        body["usage"]["estimated"] = True
    return body


def _encode_vector(vector: Sequence[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return list(vector)


def sse_event(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def sse_stream(
    stream: CompletionStream, request_id: str, *, include_usage: bool = True, gateway_fields: bool = True
) -> Iterator[bytes]:
    """chat.completion.chunk events, the usage chunk, then [DONE]; an error after the start is one event."""
    start = stream.start
    base: dict[str, Any] = {
        "id": start.id,
        "object": "chat.completion.chunk",
        "created": start.created,
        "model": start.model,
    }
    if gateway_fields:
        base["provider"] = start.provider
        base["fallback_from"] = start.fallback_from
    # Every chunk is `base` plus its choices: serialise `base` once and splice each chunk's choice into it
    # (the bytes are exactly orjson.dumps({**base, "choices": [choice]})).
    head = b"data: " + orjson.dumps(base)[:-1] + b',"choices":['
    try:
        for delta in stream:
            yield head + orjson.dumps(_choice(delta)) + b"]}\n\n"
        if include_usage and stream.usage is not None:  # with [DONE] in one write: one send, not two
            yield sse_event({**base, "choices": [], "usage": stream.usage.as_dict()}) + DONE
        else:
            yield DONE
    except GatewayError as exc:
        yield sse_event(exc.envelope(request_id))
    finally:
        stream.close()


def _choice(delta: ChatDelta) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if delta.role:
        payload["role"] = delta.role
    if delta.content is not None:
        payload["content"] = delta.content
    if delta.tool_calls:
        payload["tool_calls"] = [_tool_call_piece(piece) for piece in delta.tool_calls]
    return {"index": delta.index, "delta": payload, "logprobs": delta.logprobs, "finish_reason": delta.finish_reason}


def sse_response(events: Iterator[bytes], headers: dict[str, str]) -> Response:
    return Response(events, mimetype="text/event-stream", headers={**SSE_HEADERS, **headers})


def _tool_call_piece(piece: ToolCallDelta) -> dict[str, Any]:
    """OpenAI's tool-call delta: index always; id, type and name only in a call's first piece."""
    if piece.id is None and piece.name is None:
        return {"index": piece.index, "function": {"arguments": piece.arguments}}
    return {
        "index": piece.index,
        "id": piece.id,
        "type": "function",
        "function": {"name": piece.name, "arguments": piece.arguments},
    }
