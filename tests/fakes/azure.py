"""A fake Azure OpenAI resource: deployment URLs with api-version, the `api-key` header and Azure's error bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import Fault, json_response

DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<operation>chat/completions|embeddings)$")
SUPPORTED_API_VERSIONS = {"2024-06-01", "2024-10-21", "2025-01-01-preview"}
#: A prompt containing this word is refused by the fake's content filter, as Azure refuses a flagged prompt.
FILTERED_WORD = "forbidden-topic"
FILTER_RESULTS = {
    category: {"filtered": False, "severity": "safe"} for category in ("hate", "self_harm", "sexual", "violence")
}


def azure_error(code: str, message: str, http_status: int, **extra: Any) -> Response:
    return json_response({"error": {"code": code, "message": message, **extra}}, http_status)


def azure_rate_limit(retry_after: int = 6) -> dict[str, Any]:
    """What a caller pushes as a `status` fault: Azure's 429 body and its Retry-After headers."""
    return {
        "status": 429,
        "body": {
            "error": {
                "code": "429",
                "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 "
                "have exceeded token rate limit of your current OpenAI S0 pricing tier. "
                f"Please retry after {retry_after} seconds.",
            }
        },
        "headers": {"retry-after": str(retry_after), "retry-after-ms": str(retry_after * 1000)},
    }


class FakeAzureOpenAI(FakeOpenAI):
    """Answers like https://<resource>.openai.azure.com for the deployments it is given."""

    api_key = "fake-azure-key-0123456789abcdef"

    def __init__(self, deployments: tuple[str, ...] = ("my-gpt4o", "my-embedding")) -> None:
        super().__init__()
        self.deployments = set(deployments)

    def handle(self, request: Request, payload: Any, fault: Fault | None, environ: dict[str, Any]) -> Response:
        if request.headers.get("api-key") != self.api_key:
            return azure_error(
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
                "key for an active subscription and use a correct regional API endpoint for your resource.",
                401,
            )
        match = DEPLOYMENT_PATH.match(request.path)
        if match is None or request.args.get("api-version") not in SUPPORTED_API_VERSIONS:
            return azure_error("404", "Resource not found", 404)
        deployment = match["deployment"]
        if deployment not in self.deployments:
            return azure_error(
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the deployment within the "
                "last 5 minutes, please wait a moment and try again.",
                404,
            )
        if not isinstance(payload, dict):
            return azure_error("BadRequest", "Invalid JSON body", 400)
        payload = {**payload, "model": deployment}  # Azure reads the model from the URL
        if match["operation"] == "embeddings":
            return self.embeddings(payload)
        if FILTERED_WORD in json.dumps(payload.get("messages")):
            return azure_error(
                "content_filter",
                "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
                "Please modify your prompt and retry.",
                400,
                param="prompt",
                type=None,
                status=400,
                innererror={
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {**FILTER_RESULTS, "violence": {"filtered": True, "severity": "medium"}},
                },
            )
        return self.chat(payload, fault, environ)

    def chunks(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        # Azure's first event carries the prompt's filter results and no choices (and an empty model).
        first = {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTER_RESULTS}],
        }
        yield b"data: " + json.dumps(first).encode() + b"\n\n"
        yield from super().chunks(*args, **kwargs)
