"""A fake Cohere API v2: /v2/chat (plain and SSE with hyphenated events), /v2/embed and flat errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.cohere_rich import answer_message, prompt_tokens, rich_input, rich_problem, tool_events
from tests.fakes.rich import Plan, plan_answer
from tests.fakes.server import FakeServer, Fault, count_tokens, hard_close, json_response, sse_response

KNOWN_CHAT_FIELDS = {
    "model",
    "messages",
    "stream",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "p",
    "k",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "tools",
    "strict_tools",
    "documents",
    "citation_options",
    "response_format",
    "safety_mode",
    "tool_choice",
    "thinking",
    "logprobs",
    "priority",
}
KNOWN_EMBED_FIELDS = {
    "model",
    "texts",
    "images",
    "inputs",
    "input_type",
    "embedding_types",
    "truncate",
    "output_dimension",
    "max_tokens",
}
INPUT_TYPES = {"search_document", "search_query", "classification", "clustering", "image"}
CONTEXT_WINDOW = 4081
#: Raw `tokens.input_tokens` include Cohere's own prompt scaffolding; `billed_units` do not.
SCAFFOLD_TOKENS = 66


def cohere_error(message: str) -> dict[str, Any]:
    return {"id": "a3e9c4f1-6d0e-4c57-9a5b-2f0d1f9d3c11", "message": message}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


class FakeCohere(FakeServer):
    """Answers like api.cohere.com, validating what the real v2 API validates."""

    api_key = "co-fake-key"

    def __init__(self) -> None:
        super().__init__()
        self.defaults()

    def defaults(self) -> None:
        self.reply_text = "Hello from the fake Command"
        self.finish_reason: str | None = None  # forces a finish reason (TOOL_CALL, ERROR, TIMEOUT, ...)
        self.billed_units = True  # False: usage carries only `tokens`, as some answers do
        self.send_done = True  # a trailing `data: [DONE]` after message-end
        self.drop_message_end = False  # end the stream (with [DONE]) without its message-end event
        self.plans: list[Plan] = []  # what each answer said, tool calls exactly as sent

    def reset(self) -> None:
        super().reset()
        self.defaults()

    def handle(self, request: Request, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        auth = request.headers.get("Authorization")
        if not auth:
            return json_response(cohere_error("no api key supplied"), 401)
        if auth.lower() != f"bearer {self.api_key}":
            return json_response(cohere_error("invalid api token"), 401)
        if request.path == "/v2/chat":
            return self.chat(payload, fault, environ)
        if request.path == "/v2/embed":
            return self.embed(payload)
        return json_response(cohere_error("not found"), 404)

    def chat(self, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        problem = self.validate_chat(payload) or rich_problem(payload)
        if problem:
            return json_response(cohere_error(f"invalid request: {problem}"), 400)
        if payload["model"] == "missing-model":
            return json_response(
                cohere_error(
                    f"model '{payload['model']}' not found, make sure the correct model ID was used and that you have "
                    "access to the model."
                ),
                404,
            )
        prompt = prompt_tokens(payload, count_tokens)
        if prompt > CONTEXT_WINDOW:
            return json_response(
                cohere_error(
                    f"too many tokens: total number of tokens in the prompt cannot exceed {CONTEXT_WINDOW} - received "
                    f"{prompt}. Try using a shorter prompt, or enabling prompt truncating."
                ),
                400,
            )
        plan = plan_answer(rich_input(payload), self.reply_text, "get_weather_1byjy32y")
        self.plans.append(plan)
        words, finish = self.answer(payload, plan)
        if payload.get("stream"):
            return sse_response(self.stream(self.events(words, finish, prompt, fault, environ, plan), environ))
        self.record("/v2/chat", prompt, len(words) + plan.call_tokens)
        return json_response(
            {
                "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
                "finish_reason": finish,
                "message": answer_message(plan, words),
                "usage": self.usage(prompt, len(words) + plan.call_tokens),
            }
        )

    def answer(self, payload: dict[str, Any], plan: Plan) -> tuple[list[str], str]:
        text, finish = plan.text, "TOOL_CALL" if plan.calls else "COMPLETE"
        for sequence in payload.get("stop_sequences") or ():
            if sequence in text:
                text, finish = text[: text.index(sequence)], "STOP_SEQUENCE"
        words = text.split()
        limit = payload.get("max_tokens")
        if limit is not None and limit < len(words):
            words, finish = words[:limit], "MAX_TOKENS"
        return words, self.finish_reason or finish

    def usage(self, prompt: int, output: int) -> dict[str, Any]:
        """Counts are JSON numbers and arrive as floats, as the spec allows."""
        usage: dict[str, Any] = {
            "tokens": {"input_tokens": float(prompt + SCAFFOLD_TOKENS), "output_tokens": float(output)}
        }
        if self.billed_units:
            usage["billed_units"] = {"input_tokens": float(prompt), "output_tokens": float(output)}
        cached, _, _ = self.served_detail(prompt, output)
        if cached:
            usage["cached_tokens"] = float(cached)
        return usage

    def served_detail(self, prompt: int, completion: int) -> tuple[int, int, int]:
        """Cohere reports prompt tokens that hit its cache, nothing about cache writes or reasoning."""
        return self.detail.of(prompt, completion)[0], 0, 0

    def events(
        self, words: list[str], finish: str, prompt: int, fault: Fault | None, environ: dict[str, Any], plan: Plan
    ) -> Iterator[bytes]:
        yield _event(
            "message-start",
            {
                "id": "29f14a5a-11de-4cae-9800-25e4747408ea",
                "type": "message-start",
                "delta": {
                    "message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
                },
            },
        )
        if plan.calls:
            for name, data in tool_events(plan):
                yield _event(name, data)
        else:
            yield _event(
                "content-start",
                {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
            )
        pieces = [words[0]] + [" " + w for w in words[1:]] if words else []
        for sent, piece in enumerate(pieces):
            if fault is not None and sent == fault.after:
                self.record("/v2/chat", prompt, sent, complete=False)
                yield from self.fault_events(fault, prompt, sent, environ)
                return
            yield _event(
                "content-delta",
                {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}},
            )
        if not plan.calls:
            yield _event("content-end", {"type": "content-end", "index": 0})
        output = len(words) + plan.call_tokens
        complete = finish not in ("ERROR", "TIMEOUT") and not self.drop_message_end
        self.record("/v2/chat", prompt, output, complete=complete)
        if not self.drop_message_end:
            yield _event(
                "message-end",
                {"type": "message-end", "delta": {"finish_reason": finish, "usage": self.usage(prompt, output)}},
            )
        if self.send_done:
            yield b"data: [DONE]\n\n"

    def fault_events(self, fault: Fault, prompt: int, sent: int, environ: dict[str, Any]) -> Iterator[bytes]:
        if fault.kind == "cut_after":
            hard_close(environ)
        elif fault.kind == "error_event":
            yield _event(
                "message-end",
                {
                    "type": "message-end",
                    "delta": {
                        "finish_reason": "ERROR",
                        "error": "internal server error",
                        "usage": self.usage(prompt, sent),
                    },
                },
            )
        elif fault.kind == "bad_json":
            yield b"event: content-delta\ndata: {not json\n\n"

    def embed(self, payload: Any) -> Response:
        problem = self.validate_embed(payload)
        if problem:
            return json_response(cohere_error(f"invalid request: {problem}"), 400)
        texts = payload["texts"]
        dims = payload.get("output_dimension") or 3
        tokens = sum(count_tokens(t) for t in texts)
        self.record("/v2/embed", tokens, 0)
        return json_response(
            {
                "id": "da6e531f-54c6-4a73-bf92-f60566d8d753",
                "texts": texts,
                "embeddings": {
                    "float": [[round(0.001 * (i + 1) * (d + 1), 6) for d in range(dims)] for i, _ in enumerate(texts)]
                },
                "meta": {
                    "api_version": {"version": "2", "is_experimental": True},
                    "billed_units": {"input_tokens": float(tokens)},
                },
            }
        )

    @staticmethod
    def validate_chat(payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "invalid json body"
        unknown = sorted(set(payload) - KNOWN_CHAT_FIELDS)
        if unknown:
            return f"unknown field: parameter '{unknown[0]}' is not a valid field"
        if "model" not in payload:
            return "model is required"
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages must contain at least one message"
        if any(m.get("role") not in ("system", "user", "assistant", "tool") for m in messages):
            return "messages: role must be one of system, user, assistant, tool"
        temperature = payload.get("temperature")
        if temperature is not None and not 0 <= temperature <= 1:
            return "temperature must be between 0 and 1.0 inclusive."
        p = payload.get("p")
        if p is not None and not 0.01 <= p <= 0.99:
            return "p must be between 0.01 and 0.99 inclusive."
        stop = payload.get("stop_sequences")
        if stop is not None and (not isinstance(stop, list) or len(stop) > 5):
            return "stop_sequences must be a list of at most 5 strings."
        return None

    @staticmethod
    def validate_embed(payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "invalid json body"
        unknown = sorted(set(payload) - KNOWN_EMBED_FIELDS)
        if unknown:
            return f"unknown field: parameter '{unknown[0]}' is not a valid field"
        if payload.get("input_type") not in INPUT_TYPES:
            return "input_type is required and must be one of " + ", ".join(sorted(INPUT_TYPES))
        if not payload.get("embedding_types"):
            return "embedding_types parameter is required"
        texts = payload.get("texts")
        if not isinstance(texts, list) or not texts or len(texts) > 96:
            return "texts must contain between 1 and 96 items"
        if payload.get("output_dimension") not in (None, 256, 512, 1024, 1536):
            return "output_dimension must be one of 256, 512, 1024, 1536"
        return None
