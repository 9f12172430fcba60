"""A fake Hugging Face upstream: the Inference Providers router (mode "router") or a self-hosted TGI (mode "tgi")."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.openai_rich import content_text, rich_input, rich_problem, tool_call_deltas, tool_call_message
from tests.fakes.rich import Plan, plan_answer
from tests.fakes.server import FakeServer, Fault, count_tokens, hard_close, json_response, sse_response
from tests.fakes.tgi_rich import answer_message as tgi_answer_message
from tests.fakes.tgi_rich import rich_input as tgi_rich_input
from tests.fakes.tgi_rich import tgi_problem, tool_deltas

ROUTER_MODELS = {"meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"}
EMBEDDING_MODELS = {"sentence-transformers/all-MiniLM-L6-v2", "BAAI/bge-large-en-v1.5"}
TGI_MAX_TOTAL_TOKENS = 4096
FEATURE_EXTRACTION = "/pipeline/feature-extraction"


def tgi_error(message: str, error_type: str) -> dict[str, Any]:
    return {"error": message, "error_type": error_type}


def router_error(message: str, type_: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class FakeHuggingFace(FakeServer):
    """Router mode: bearer `hf_` token, OpenAI-style chat, hf-inference feature extraction, HF error shapes.
    TGI mode: optional API key (empty 401), `data:` without a space, empty ids, strict top_p and stop."""

    router_key = "hf_fake_router_token"

    def __init__(self, mode: str = "router", api_key: str | None = None) -> None:
        super().__init__()
        self.mode = mode
        self.api_key = api_key if mode == "tgi" else self.router_key
        self.defaults()

    def defaults(self) -> None:
        self.reply_text = "Hello from the fake Llama"
        self.finish_reason: str | None = None  # forces a finish reason (eos_token, ...)
        self.stream_usage = True  # False: an upstream provider that ignores include_usage
        self.flat_single = False  # True: a single input is answered with a 1-D vector
        self.plans: list[Plan] = []  # what each chat answer said, tool calls exactly as sent

    def reset(self) -> None:
        super().reset()
        self.defaults()

    def handle(self, request: Request, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        if self.api_key and (request.headers.get("Authorization") or "").lower() != f"bearer {self.api_key}".lower():
            if self.mode == "tgi":
                return Response(b"", status=401)
            return json_response({"error": "Invalid credentials in Authorization header"}, 401)
        if request.path == "/v1/chat/completions":
            return self.chat(payload, fault, environ)
        if (
            self.mode == "router"
            and request.path.startswith("/hf-inference/models/")
            and request.path.endswith(FEATURE_EXTRACTION)
        ):
            model = request.path[len("/hf-inference/models/") : -len(FEATURE_EXTRACTION)]
            return self.feature_extraction(model, payload)
        if self.mode == "tgi":
            return Response(b"", status=404)
        return json_response({"error": "Not Found"}, 404)

    # -- chat ---------------------------------------------------------------------------------
    def chat(self, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        problem = self.validate_chat(payload)
        if problem is not None:
            return problem
        if self.mode == "tgi":
            rich_text = tgi_problem(payload)
            if rich_text:
                return json_response(tgi_error(rich_text, "validation"), 422)
            plan = plan_answer(tgi_rich_input(payload), self.reply_text, "")
            for call in plan.calls:
                call.id = "0"
        else:
            openai_problem = rich_problem(payload)
            if openai_problem:
                return json_response(router_error(openai_problem[0]), 400)
            plan = plan_answer(rich_input(payload), self.reply_text, "call_hf")
        self.plans.append(plan)
        prompt = sum(count_tokens(content_text(m.get("content"))) for m in payload["messages"])
        limit = payload.get("max_tokens")
        if self.mode == "tgi" and limit is not None and prompt + limit > TGI_MAX_TOTAL_TOKENS:
            return json_response(
                tgi_error(
                    f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {TGI_MAX_TOTAL_TOKENS}. "
                    f"Given: {prompt} `inputs` tokens and {limit} `max_new_tokens`",
                    "validation",
                ),
                422,
            )
        words, finish = self.answer(payload, plan)
        if payload.get("stream"):
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage")) and self.stream_usage
            events = self.chunks(payload["model"], words, finish, prompt, include_usage, fault, environ, plan)
            return sse_response(self.stream(events, environ))
        self.record("/v1/chat/completions", prompt, len(words) + plan.call_tokens)
        message: dict[str, Any] = {"role": "assistant", "content": " ".join(words)}
        if plan.calls:
            message = tgi_answer_message(plan) if self.mode == "tgi" else tool_call_message(plan.calls)
        return json_response(
            {
                "object": "chat.completion",
                "id": "" if self.mode == "tgi" else "chatcmpl-7f3a9d2e",
                "created": int(time.time()),
                "model": payload["model"],
                "system_fingerprint": "3.3.6-dev0-native",
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
                "usage": self.usage(prompt, len(words) + plan.call_tokens),
            }
        )

    def usage(self, prompt: int, completion: int) -> dict[str, Any]:
        """OpenAI's usage; the router adds the detail objects its provider sent, TGI has none."""
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        cached, _, reasoning = self.served_detail(prompt, completion)
        if self.mode == "router" and (cached or reasoning):
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return usage

    def served_detail(self, prompt: int, completion: int) -> tuple[int, int, int]:
        """The router relays cached and reasoning counts; cache writes and TGI's answers carry none."""
        if self.mode == "tgi":
            return 0, 0, 0
        cached, _, reasoning = self.detail.of(prompt, completion)
        return cached, 0, reasoning

    def answer(self, payload: dict[str, Any], plan: Plan) -> tuple[list[str], str]:
        # TGI reports `stop` even for a tool call; the router (OpenAI-compatible) `tool_calls`.
        text, finish = plan.text, "tool_calls" if plan.calls and self.mode == "router" else "stop"
        for sequence in payload.get("stop") or ():
            if sequence in text:
                text, finish = text[: text.index(sequence)], "stop_sequence" if self.mode == "tgi" else "stop"
        words = text.split()
        limit = payload.get("max_tokens")
        if limit is not None and limit < len(words):
            words, finish = words[:limit], "length"
        return words, self.finish_reason or finish

    def chunks(
        self,
        model: str,
        words: list[str],
        finish: str,
        prompt: int,
        include_usage: bool,
        fault: Fault | None,
        environ: dict[str, Any],
        plan: Plan,
    ) -> Iterator[bytes]:
        # TGI writes `data:{json}` (no space) and keep-alive comments; the router writes `data: {json}`.
        prefix = b"data:" if self.mode == "tgi" else b"data: "
        base = {
            "object": "chat.completion.chunk",
            "id": "" if self.mode == "tgi" else "chatcmpl-7f3a9d2e",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "3.3.6-dev0-native",
        }

        def event(delta: dict[str, Any], finish_reason: str | None = None, usage: Any = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return prefix + json.dumps({**base, "choices": [choice], "usage": usage}).encode() + b"\n\n"

        pieces = [words[0]] + [" " + w for w in words[1:]] if words else []
        if self.mode == "tgi":
            yield b":\n\n"
        for sent, piece in enumerate(pieces):
            if fault is not None and sent == fault.after:
                self.record("/v1/chat/completions", prompt, sent, complete=False)
                yield from self.fault_events(fault, prefix, environ)
                return
            yield event({"role": "assistant", "content": piece})
        if plan.calls:
            yield from (event(d) for d in (tool_deltas(plan) if self.mode == "tgi" else tool_call_deltas(plan.calls)))
        usage = self.usage(prompt, len(words) + plan.call_tokens)
        yield event({"role": "assistant", "content": ""}, finish, usage if include_usage else None)
        self.record("/v1/chat/completions", prompt, len(words) + plan.call_tokens)
        yield b"data: [DONE]\n\n"

    @staticmethod
    def fault_events(fault: Fault, prefix: bytes, environ: dict[str, Any]) -> Iterator[bytes]:
        if fault.kind == "cut_after":
            hard_close(environ)
        elif fault.kind == "error_event":
            body = fault.body or {
                "error": {
                    "message": "Request failed during generation: Server error: CUDA OOM",
                    "http_status_code": 424,
                }
            }
            yield prefix + json.dumps(body).encode() + b"\n\n"
        elif fault.kind == "bad_json":
            yield prefix + b"{not json\n\n"

    def validate_chat(self, payload: Any) -> Response | None:
        if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list) or not payload["messages"]:
            return self.rejected("messages: missing field `messages`")
        if self.mode == "router" and payload.get("model") not in ROUTER_MODELS:
            return json_response(
                router_error(
                    f"The requested model '{payload.get('model')}' is not supported by any provider you have enabled.",
                    code="model_not_supported",
                ),
                400,
            )
        stop = payload.get("stop")
        if stop is not None and not isinstance(stop, list):
            # axum's JSON rejection: plain text, 422
            return Response(
                f"Failed to deserialize the JSON body into the target type: stop: invalid type: string "
                f"{json.dumps(stop)}, expected a sequence at line 1 column 80",
                status=422,
                content_type="text/plain; charset=utf-8",
            )
        top_p = payload.get("top_p")
        if self.mode == "tgi" and top_p is not None and not 0 < top_p < 1:
            return json_response(
                tgi_error("Input validation error: `top_p` must be > 0.0 and < 1.0", "validation"), 422
            )
        return None

    def rejected(self, message: str) -> Response:
        if self.mode == "tgi":
            return json_response(tgi_error(message, "validation"), 422)
        return json_response(router_error(message), 400)

    # -- embeddings ---------------------------------------------------------------------------
    def feature_extraction(self, model: str, payload: Any) -> Response:
        if model not in EMBEDDING_MODELS:
            return json_response({"error": f"Model {model} does not exist"}, 404)
        inputs = payload.get("inputs") if isinstance(payload, dict) else None
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return json_response({"error": ["Input should be a valid list", "Input should be a valid string"]}, 400)
        self.record(FEATURE_EXTRACTION, sum(count_tokens(t) for t in inputs), 0)
        vectors = [[round(0.01 * (i + 1) * (d + 1), 6) for d in range(4)] for i, _ in enumerate(inputs)]
        return json_response(vectors[0] if self.flat_single and len(vectors) == 1 else vectors)
