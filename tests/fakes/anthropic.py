"""A fake Anthropic API: /v1/messages (plain and SSE with ping and error events), errors and rate-limit headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.anthropic_rich import answer_blocks, rich_input, rich_problem, tool_events
from tests.fakes.rich import Plan, plan_answer
from tests.fakes.server import FakeServer, Fault, count_tokens, hard_close, json_response, sse_response

RATE_HEADERS = {
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2025-11-26T20:00:01Z",
    "anthropic-ratelimit-tokens-limit": "400000",
    "anthropic-ratelimit-tokens-remaining": "399000",
    "anthropic-ratelimit-tokens-reset": "2025-11-26T20:00:01Z",
    "request-id": "req_011CVQe1dLrGNMJyE1ghG1av",
}
KNOWN_FIELDS = {
    "model",
    "messages",
    "max_tokens",
    "system",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "metadata",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "output_config",
}
CONTEXT_WINDOW = 8192
TOOL_USE = {
    "type": "tool_use",
    "id": "toolu_01A09q90qw90lq917835lq9",
    "name": "get_weather",
    "input": {"city": "Paris"},
}


def anthropic_error(type_: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": "req_011CVQe1dLrGNMJyE1ghG1av"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(block.get("text", "") for block in content or () if isinstance(block, dict))


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


#: The extended-thinking block the fake answers with when `thinking` is enabled (its signature must come back).
THINKING = {
    "type": "thinking",
    "thinking": "The user greets me; I greet back.",
    "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
}


def thinks(payload: dict[str, Any]) -> bool:
    return (payload.get("thinking") or {}).get("type") == "enabled"


def thinking_events() -> Iterator[bytes]:
    """A thinking block at index 0 as Anthropic streams it: the ping, thinking deltas, the signature, the stop."""
    start = {"type": "thinking", "thinking": "", "signature": ""}
    yield _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start})
    yield _event("ping", {"type": "ping"})
    for piece in ("The user greets me;", " I greet back."):
        delta = {"type": "thinking_delta", "thinking": piece}
        yield _event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
    signature = {"type": "signature_delta", "signature": THINKING["signature"]}
    yield _event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": signature})
    yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})


def thinking_problem(messages: list[Any]) -> str | None:
    """Thinking blocks sent back must be intact: the real API refuses a block whose signature is missing."""
    for i, message in enumerate(messages):
        for j, block in enumerate(message.get("content") if isinstance(message.get("content"), list) else ()):
            if isinstance(block, dict) and block.get("type") == "thinking":
                if message.get("role") != "assistant":
                    return f"messages.{i}.content.{j}: thinking blocks are only allowed in assistant turns"
                if not block.get("signature"):
                    return f"messages.{i}.content.{j}.signature: Field required"
    return None


class FakeAnthropic(FakeServer):
    """Answers like api.anthropic.com, validating what the real Messages API validates."""

    api_key = "sk-ant-fake-key"

    def __init__(self) -> None:
        super().__init__()
        self.defaults()

    def defaults(self) -> None:
        self.reply_text = "Hello from the fake Claude"
        self.stop_reason: str | None = None  # forces a stop_reason (refusal, tool_use, pause_turn, ...)
        self.cache_creation_tokens = 0
        self.cache_read_tokens = 0
        self.usage_updates = False  # send an extra, intermediate message_delta with a partial cumulative count
        self.tool_call = False  # answer with a text block and then a tool_use block (stop_reason tool_use)
        self.drop_message_stop = False  # end the stream cleanly after message_delta, without message_stop
        self.plans: list[Plan] = []  # what each answer said, tool calls exactly as sent

    def reset(self) -> None:
        super().reset()
        self.defaults()

    def handle(self, request: Request, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        if request.headers.get("x-api-key") != self.api_key:
            return json_response(anthropic_error("authentication_error", "invalid x-api-key"), 401)
        if not request.headers.get("anthropic-version"):
            return json_response(anthropic_error("invalid_request_error", "anthropic-version: header is required"), 400)
        if request.path != "/v1/messages":
            return json_response(anthropic_error("not_found_error", "Not Found"), 404)
        problem = self.validate(payload) or thinking_problem(payload.get("messages") or []) or rich_problem(payload)
        if problem:
            return json_response(anthropic_error("invalid_request_error", problem), 400)
        if payload["model"] == "missing-model":
            return json_response(anthropic_error("not_found_error", f"model: {payload['model']}"), 404)
        prompt = count_tokens(_text(payload.get("system"))) if payload.get("system") else 0
        prompt += sum(count_tokens(_text(m["content"])) for m in payload["messages"])
        if prompt > CONTEXT_WINDOW:
            return json_response(
                anthropic_error(
                    "invalid_request_error", f"prompt is too long: {prompt} tokens > {CONTEXT_WINDOW} maximum"
                ),
                400,
            )
        plan = plan_answer(rich_input(payload), self.reply_text, "toolu_01")
        self.plans.append(plan)
        words, stop_reason, stop_sequence = self.answer(payload, plan)
        if payload.get("stream"):
            events = self.events(payload["model"], words, stop_reason, prompt, fault, environ, plan, thinks(payload))
            return sse_response(self.stream(events, environ), RATE_HEADERS)
        usage = self.usage(prompt, len(words) + plan.call_tokens)
        self.record("/v1/messages", self.billed_prompt(prompt), len(words) + plan.call_tokens)
        text = [{"type": "text", "text": " ".join(words)}] if words or not plan.calls else []
        thinking = [THINKING] if thinks(payload) else []
        return json_response(
            {
                "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
                "type": "message",
                "role": "assistant",
                "model": payload["model"],
                "content": thinking + text + ([TOOL_USE] if self.tool_call else []) + answer_blocks(plan)[len(text) :],
                "stop_reason": stop_reason,
                "stop_sequence": stop_sequence,
                "usage": usage,
            },
            200,
            RATE_HEADERS,
        )

    def answer(self, payload: dict[str, Any], plan: Plan) -> tuple[list[str], str, str | None]:
        """The words served, the stop reason and the stop sequence that matched."""
        text, stop_reason, matched = plan.text, "end_turn", None
        for sequence in payload.get("stop_sequences") or ():
            if sequence in text:
                text, stop_reason, matched = text[: text.index(sequence)], "stop_sequence", sequence
        words = text.split()
        if payload["max_tokens"] < len(words):
            words, stop_reason, matched = words[: payload["max_tokens"]], "max_tokens", None
        if self.tool_call or plan.calls:
            stop_reason = "tool_use"
        return words, self.stop_reason or stop_reason, matched

    def billed_prompt(self, prompt: int) -> int:
        return prompt + sum(self.cache_counts())

    def cache_counts(self) -> tuple[int, int]:
        """(read, written) prompt-cache tokens, on top of the uncached input: this fake's own settings, else the
        scripted usage detail."""
        return self.cache_read_tokens or self.detail.cached, self.cache_creation_tokens or self.detail.cache_write

    def usage(self, prompt: int, output: int) -> dict[str, Any]:
        """`input_tokens` counts only uncached input; cache reads and writes come on top of it."""
        read, written = self.cache_counts()
        usage: dict[str, Any] = {
            "input_tokens": prompt,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": written - min(self.detail.cache_write_1h, written),
                "ephemeral_1h_input_tokens": min(self.detail.cache_write_1h, written),
            },
            "output_tokens": output,
            "service_tier": "standard",
        }
        thinking = self.served_detail(prompt, output)[2]
        if thinking:
            usage["output_tokens_details"] = {"thinking_tokens": thinking}
        return usage

    def delta_usage(self, prompt: int, output: int) -> dict[str, Any]:
        """A closing `message_delta`'s usage: cumulative output, repeating the input-side counts (as the API
        does now; the SDK overwrites, never adds)."""
        usage = self.usage(prompt, output)
        del usage["service_tier"]
        return usage

    def served_detail(self, prompt: int, completion: int) -> tuple[int, int, int]:
        """Cache reads and writes are this fake's own settings (on top of the input); thinking is part of output."""
        return *self.cache_counts(), min(self.detail.reasoning, completion)

    def events(
        self,
        model: str,
        words: list[str],
        stop_reason: str,
        prompt: int,
        fault: Fault | None,
        environ: dict[str, Any],
        plan: Plan,
        thinking: bool = False,
    ) -> Iterator[bytes]:
        """The stream; with extended thinking a thinking block (deltas, then its signature) comes first."""
        message = {
            "id": "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self.usage(prompt, 1),
        }
        yield _event("message_start", {"type": "message_start", "message": message})
        first = 1 if thinking else 0
        if thinking:
            yield from thinking_events()
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": first, "content_block": {"type": "text", "text": ""}},
        )
        if not thinking:
            yield _event("ping", {"type": "ping"})
        pieces = [words[0]] + [" " + w for w in words[1:]] if words else []
        for sent, piece in enumerate(pieces):
            if fault is not None and sent == fault.after:
                self.record("/v1/messages", self.billed_prompt(prompt), sent, complete=False)
                yield from self.fault_events(fault, environ)
                return
            if self.usage_updates and sent == 1:
                yield _event(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": None, "stop_sequence": None},
                        "usage": {"output_tokens": sent},
                    },
                )
            yield _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": first, "delta": {"type": "text_delta", "text": piece}},
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": first})
        if self.tool_call:
            yield from self.tool_events()
        for name, data in tool_events(plan, first + 1):
            yield _event(name, data)
        yield _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": self.delta_usage(prompt, len(words) + plan.call_tokens),
            },
        )
        output = len(words) + plan.call_tokens
        self.record("/v1/messages", self.billed_prompt(prompt), output, complete=not self.drop_message_stop)
        if not self.drop_message_stop:
            yield _event("message_stop", {"type": "message_stop"})

    @staticmethod
    def tool_events() -> Iterator[bytes]:
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {**TOOL_USE, "input": {}}},
        )
        for part in ('{"city": ', '"Paris"}'):
            yield _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": part},
                },
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": 1})

    @staticmethod
    def fault_events(fault: Fault, environ: dict[str, Any]) -> Iterator[bytes]:
        if fault.kind == "cut_after":
            hard_close(environ)
        elif fault.kind == "error_event":
            yield _event("error", fault.body or anthropic_error("overloaded_error", "Overloaded"))
        elif fault.kind == "bad_json":
            yield b"event: content_block_delta\ndata: {not json\n\n"

    @staticmethod
    def validate(payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "There was an issue with your request body: invalid JSON"
        unknown = sorted(set(payload) - KNOWN_FIELDS)
        if unknown:
            return f"{unknown[0]}: Extra inputs are not permitted"
        for name in ("model", "messages", "max_tokens"):
            if name not in payload:
                return f"{name}: Field required"
        if not isinstance(payload["max_tokens"], int) or payload["max_tokens"] < 1:
            return "max_tokens: Input should be a valid integer greater than or equal to 1"
        messages = payload["messages"]
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        for index, message in enumerate(messages):
            if message.get("role") not in ("user", "assistant"):
                return (
                    f'messages.{index}.role: Unexpected role "{message.get("role")}". The Messages API accepts a '
                    'top-level `system` parameter, not "system" as an input message role.'
                )
        temperature = payload.get("temperature")
        if temperature is not None and not 0 <= temperature <= 1:
            return "temperature: range: 0..1"
        if "stop_sequences" in payload and not isinstance(payload["stop_sequences"], list):
            return "stop_sequences: Input should be a valid list"
        if set(payload.get("metadata") or {}) - {"user_id"}:
            return "metadata: Extra inputs are not permitted"
        return None
