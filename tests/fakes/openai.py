"""A fake OpenAI API: /v1/chat/completions and /v1/responses (plain and SSE), /v1/embeddings, errors, rate headers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes import openai_responses
from tests.fakes.openai_rich import content_text, rich_input, rich_problem, tool_call_deltas, tool_call_message
from tests.fakes.rich import Plan, plan_answer
from tests.fakes.server import FakeServer, Fault, count_tokens, hard_close, json_response, sse_response

RATE_HEADERS = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-limit-tokens": "30000000",
    "x-ratelimit-remaining-tokens": "29999000",
    "x-ratelimit-reset-tokens": "2ms",
    "openai-version": "2020-10-01",
    "openai-processing-ms": "12",
}
KNOWN_CHAT_FIELDS = {
    "model",
    "messages",
    "temperature",
    "top_p",
    "n",
    "stream",
    "stream_options",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
    "seed",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "logprobs",
    "top_logprobs",
    "store",
    "metadata",
    "service_tier",
    "reasoning_effort",
}


def logprobs_of(words: list[str]) -> dict[str, Any]:
    """OpenAI's logprobs object for the given tokens."""
    return {
        "content": [{"token": w, "logprob": -0.25, "bytes": list(w.encode()), "top_logprobs": []} for w in words],
        "refusal": None,
    }


def openai_error(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class FakeOpenAI(FakeServer):
    """Answers like api.openai.com/v1 (mounted at /v1), validating what the real API validates."""

    api_key = "sk-fake-openai-key"
    reply_text = "Hello from the fake upstream"

    def __init__(self) -> None:
        super().__init__()
        self.plans: list[Plan] = []  # what each chat answer said, tool calls exactly as sent

    def reset(self) -> None:
        super().reset()
        self.plans.clear()

    def handle(self, request: Request, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return json_response(
                openai_error("Incorrect API key provided: sk-abc***.", "invalid_request_error", "invalid_api_key"), 401
            )
        if request.path == "/v1/chat/completions":
            return self.chat(payload, fault, environ)
        if request.path == "/v1/embeddings":
            return self.embeddings(payload)
        if request.path == "/v1/responses":
            return self.responses(payload, environ)
        return json_response(openai_error("Unknown request URL", "invalid_request_error", "unknown_url"), 404)

    def responses(self, payload: Any, environ: dict[str, Any]) -> Response:
        """The Responses API (see tests/fakes/openai_responses.py)."""
        refused = openai_responses.problem(payload)
        if refused:
            return json_response(openai_error(refused[0], "invalid_request_error", None, refused[1]), 400)
        plan, _words, prompt, final = openai_responses.answer(payload, self.reply_text)
        self.plans.append(plan)
        self.record("/v1/responses", prompt, final["usage"]["output_tokens"])
        if payload.get("stream"):
            return sse_response(self.stream(openai_responses.events(payload, final), environ), RATE_HEADERS)
        return json_response(final, 200, RATE_HEADERS)

    def chat(self, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        problem = self.validate_chat(payload) or rich_problem(payload)
        if problem:
            return json_response(openai_error(problem[0], "invalid_request_error", None, problem[1]), 400)
        prompt = sum(count_tokens(content_text(m.get("content"))) for m in payload["messages"])
        if payload["model"] == "missing-model":
            return json_response(
                openai_error(
                    f"The model `{payload['model']}` does not exist.", "invalid_request_error", "model_not_found"
                ),
                404,
            )
        if prompt > 8192:
            return json_response(
                openai_error(
                    "This model's maximum context length is 8192 tokens. "
                    f"However, your messages resulted in {prompt} tokens.",
                    "invalid_request_error",
                    "context_length_exceeded",
                    "messages",
                ),
                400,
            )
        plan = plan_answer(rich_input(payload), self.reply_text, "call_")
        self.plans.append(plan)
        words = plan.text.split()
        limit = payload.get("max_completion_tokens") or payload.get("max_tokens")
        finish = "tool_calls" if plan.calls else "stop"
        if limit is not None and limit < len(words):
            words, finish = words[:limit], "length"
        if payload.get("stream"):
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
            return sse_response(
                self.stream(
                    self.chunks(
                        payload["model"],
                        words,
                        finish,
                        prompt,
                        include_usage,
                        fault,
                        environ,
                        plan,
                        payload.get("n") or 1,
                        bool(payload.get("logprobs")),
                    ),
                    environ,
                ),
                RATE_HEADERS,
            )
        completion = len(words) + sum(count_tokens(c.arguments) for c in plan.calls)
        self.record("/v1/chat/completions", prompt, completion)
        message = (
            tool_call_message(plan.calls)
            if plan.calls
            else {"role": "assistant", "content": " ".join(words), "refusal": None, "annotations": []}
        )
        return json_response(
            {
                "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": payload["model"],
                "choices": [
                    {
                        "index": i,
                        "message": message,
                        "logprobs": logprobs_of(words) if payload.get("logprobs") else None,
                        "finish_reason": finish,
                    }
                    for i in range(payload.get("n") or 1)
                ],
                "usage": self.usage(prompt, completion),
                "service_tier": "default",
                "system_fingerprint": "fp_44709d6fcb",
            },
            200,
            RATE_HEADERS,
        )

    def chunks(
        self,
        model: str,
        words: list[str],
        finish: str,
        prompt: int,
        include_usage: bool,
        fault: Fault | None,
        environ: dict[str, Any],
        plan: Plan | None = None,
        choices: int = 1,
        logprobs: bool = False,
    ) -> Iterator[bytes]:
        base = {
            "id": "chatcmpl-123",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_44709d6fcb",
        }

        def event(choices: list[dict[str, Any]], usage: Any = None) -> bytes:
            return b"data: " + json.dumps({**base, "choices": choices, "usage": usage}).encode() + b"\n\n"

        pieces = [words[0]] + [" " + w for w in words[1:]] if words else []
        sent = 0
        yield event(
            [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}]
        )
        for piece in pieces:
            if fault is not None and sent == fault.after:
                self.record("/v1/chat/completions", prompt, sent, complete=False)
                if fault.kind == "cut_after":
                    hard_close(environ)
                    return
                if fault.kind == "error_event":
                    yield (
                        b"data: "
                        + json.dumps(openai_error("The server had an error", "server_error")).encode()
                        + b"\n\n"
                    )
                    return
                if fault.kind == "bad_json":
                    yield b"data: {not json\n\n"
                    return
            if self.chunk_delay:
                time.sleep(self.chunk_delay)
            yield event(
                [
                    {
                        "index": i,
                        "delta": {"content": piece},
                        "finish_reason": None,
                        "logprobs": logprobs_of([piece]) if logprobs else None,
                    }
                    for i in range(choices)
                ]
            )
            sent += 1
        for delta in tool_call_deltas(plan.calls if plan else []):
            yield event([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])
        sent += sum(count_tokens(c.arguments) for c in (plan.calls if plan else []))
        yield event([{"index": i, "delta": {}, "logprobs": None, "finish_reason": finish} for i in range(choices)])
        if include_usage:
            yield event([], self.usage(prompt, sent))
        self.record("/v1/chat/completions", prompt, sent)
        yield b"data: [DONE]\n\n"

    def usage(self, prompt: int, completion: int) -> dict[str, Any]:
        """`CompletionUsage` as OpenAI sends it, plain and in the stream's usage chunk: cached tokens are part of
        the prompt, reasoning tokens part of the completion."""
        cached, cache_write, reasoning = self.served_detail(prompt, completion)
        prompt_details: dict[str, int] = {"cached_tokens": cached, "audio_tokens": 0}
        if cache_write:
            prompt_details["cache_write_tokens"] = cache_write
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": prompt_details,
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def embeddings(self, payload: Any) -> Response:
        if not isinstance(payload, dict) or "model" not in payload or "input" not in payload:
            return json_response(openai_error("you must provide a model and input", "invalid_request_error"), 400)
        inputs = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
        if not inputs or len(inputs) > 2048:
            return json_response(
                openai_error("'input' must have 1 to 2048 items", "invalid_request_error", None, "input"), 400
            )
        dims = payload.get("dimensions") or 3
        tokens = sum(count_tokens(t) for t in inputs)
        self.record("/v1/embeddings", tokens, 0)
        return json_response(
            {
                "object": "list",
                "data": [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": [round(0.001 * (i + 1) * (d + 1), 6) for d in range(dims)],
                    }
                    for i, _ in enumerate(inputs)
                ],
                "model": payload["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            200,
            RATE_HEADERS,
        )

    @staticmethod
    def validate_chat(payload: Any) -> tuple[str, str | None] | None:
        if not isinstance(payload, dict):
            return "We could not parse the JSON body of your request.", None
        unknown = set(payload) - KNOWN_CHAT_FIELDS
        if unknown:
            name = min(unknown)
            return f"Unrecognized request argument supplied: {name}", name
        if "model" not in payload:
            return "you must provide a model parameter", "model"
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must contain at least one message", "messages"
        if "stream_options" in payload and not payload.get("stream"):
            return "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"
        stop = payload.get("stop")
        if isinstance(stop, list) and len(stop) > 4:
            return "'stop' may hold at most 4 sequences", "stop"
        return None
