"""The abstract provider: capability flags, one method per operation, and shared error classification."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import orjson

from llmgateway.errors import (
    ContextLengthExceeded,
    GatewayError,
    GatewayTimeout,
    InvalidRequest,
    ModelNotFound,
    RateLimitExceeded,
    ServerError,
    UnsupportedOperation,
)
from llmgateway.providers.http import DEFAULT_POOL_MAXSIZE, HttpReply, HttpTransport, UpstreamStream
from llmgateway.providers.images import decoded_size
from llmgateway.providers.types import (
    ChatDelta,
    ChatRequest,
    ChatResponse,
    ChatStream,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelInfo,
)

_CONTEXT_PATTERNS = re.compile(
    r"context length|context_length|context window|prompt is too long|too many tokens"
    r"|tokens \+ .max_new_tokens. must be <=|must have less than \d+ tokens",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """What a provider needs from configuration."""

    api_key: str | None
    base_url: str
    timeout: float = 120.0
    connect_timeout: float = 5.0
    stream_idle_timeout: float = 60.0
    max_connections: int = DEFAULT_POOL_MAXSIZE  # pooled keep-alive connections per worker
    options: dict[str, Any] = field(default_factory=dict)


class Provider(ABC):
    """One upstream vendor. Subclasses translate requests and answers; they never retry or route."""

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    #: Environment variables that override this provider's `api_key` and `base_url` settings (None: no override).
    api_key_env: ClassVar[str | None] = None
    base_url_env: ClassVar[str | None] = None
    #: Whether unknown OpenAI-style fields can be passed straight through to this upstream.
    accepts_openai_extras: ClassVar[bool] = False
    known_models: ClassVar[tuple[ModelInfo, ...]] = ()
    #: Prefixes of unprefixed model ids that this provider answers (SPEC §3 inference).
    inferred_prefixes: ClassVar[tuple[str, ...]] = ()
    #: The provider's published price of a cached-input token and of a cache-write token, as a fraction of its
    #: input price; used when the price table or config names no cached price. 1.0: no published discount.
    cache_read_price_ratio: ClassVar[float] = 1.0
    cache_write_price_ratio: ClassVar[float] = 1.0
    #: The price of a one-hour cache write (Anthropic `ttl: 1h`), as a fraction of the input price.
    cache_write_1h_price_ratio: ClassVar[float] = 1.0
    #: The largest inline image (decoded bytes) the upstream accepts.
    max_image_bytes: ClassVar[int] = 20 * 1024 * 1024

    def __init__(self, settings: ProviderSettings, transport: HttpTransport | None = None) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.transport = transport or HttpTransport(
            timeout=settings.timeout,
            connect_timeout=settings.connect_timeout,
            stream_idle_timeout=settings.stream_idle_timeout,
            pool_maxsize=settings.max_connections,
        )

    @classmethod
    def cache_price_ratios(cls) -> tuple[float, float, float]:
        """(cache read, cache write, one-hour cache write) prices as fractions of the input price."""
        return cls.cache_read_price_ratio, cls.cache_write_price_ratio, cls.cache_write_1h_price_ratio

    @classmethod
    def infers(cls, model_id: str) -> bool:
        """Whether an unprefixed, unmapped model id belongs to this provider."""
        lowered = model_id.lower()
        return any(lowered.startswith(prefix) for prefix in cls.inferred_prefixes)

    @classmethod
    def model_info(cls, model: str) -> ModelInfo | None:
        """The catalogue entry for a provider model id (providers with aliases override this)."""
        lowered = model.lower()
        return next((info for info in cls.known_models if info.provider_model_id.lower() == lowered), None)

    @property
    def deployment(self) -> str:
        """Provider plus base URL: the grain breakers and pools are kept at."""
        return f"{self.name}@{self.base_url}"

    def correlation_headers(self, request_id: str | None) -> dict[str, str]:
        """Headers that tie the provider's logs to this request's gateway id; every provider module sends them."""
        return {"X-Request-ID": request_id} if request_id else {}

    @abstractmethod
    def chat(self, request: ChatRequest) -> ChatResponse:
        """A non-streamed completion."""

    @abstractmethod
    def stream_chat(self, request: ChatRequest) -> ChatStream:
        """Open a stream; raises a GatewayError before returning if the upstream refused it."""

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings; providers without them keep this default."""
        raise UnsupportedOperation(f"The provider '{self.name}' has no embeddings.")

    def close(self) -> None:
        self.transport.close()

    # -- helpers shared by the provider modules ---------------------------------------------------
    def check_images(self, request: ChatRequest) -> None:
        """Refuse (400, naming the place) an inline image larger than this upstream accepts, before sending."""
        for place, image in request.image_places():
            if decoded_size(image.url) > self.max_image_bytes:
                raise InvalidRequest(
                    f"{place}: the image is larger than the {self.name} provider accepts "
                    f"({self.max_image_bytes // (1024 * 1024)} MiB).",
                    param=place,
                )

    def checked_json(self, reply: HttpReply) -> dict[str, Any]:
        """The answer's JSON object, or the mapped error when the upstream failed."""
        if reply.status != 200:
            raise self.error_from(reply)
        data = reply.json()
        if not isinstance(data, dict):
            raise ServerError(f"The {self.name} provider sent an answer the gateway cannot read.")
        return data

    def error_from(self, reply: HttpReply) -> GatewayError:
        """The gateway error for an upstream error answer; providers override it for their own quirks."""
        message, code = upstream_error_details(reply.json())
        return classify_upstream_error(self.name, reply, message, upstream_code=code)

    def open_chat_stream(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        relay: Callable[[UpstreamStream, ChatStream], Iterator[ChatDelta]],
    ) -> ChatStream:
        """Open an upstream stream (raising its mapped error if refused); `relay` turns its lines into deltas."""
        upstream = self.transport.open_stream(url, body, headers)
        if upstream.status != 200:
            raise self.error_from(upstream.read_all())
        stream = ChatStream(iter(()), close=upstream.close)
        stream._deltas = relay(upstream, stream)
        return stream

    def event_json(self, data: str) -> dict[str, Any]:
        """One stream event's JSON object; anything else means the stream is broken."""
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ServerError(f"The {self.name} provider sent a malformed stream event.") from exc
        if not isinstance(event, dict):
            raise ServerError(f"The {self.name} provider sent a malformed stream event.")
        return event


def token_count(value: Any) -> Any:
    """A token count from an upstream usage field, as sent (missing reads as 0): `Usage` bounds and flags it."""
    return 0 if value is None else value


def upstream_error_details(data: Any) -> tuple[str | None, str | None]:
    """The message and machine code of an upstream error body, whatever its shape.

    Nested `{"error": {"message", "code"}}` (OpenAI, Anthropic, HF router), `{"error": "…"}` with an optional
    `error_description` (HF, TGI), `{"error": ["…"]}` (HF) and flat `{"message": …}` (Cohere, TEI).
    """
    if not isinstance(data, dict):
        return None, None
    error = data.get("error")
    if isinstance(error, dict):
        return _text(error.get("message")), _text(error.get("code"))
    if isinstance(error, list):
        return "; ".join(str(item) for item in error) or None, None
    if isinstance(error, str):
        description = _text(data.get("error_description"))
        return (f"{error}: {description}" if description else error) or None, None
    return _text(data.get("message")), None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def retry_after_seconds(headers: Any) -> float | None:
    """Retry delay from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            import time

            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def classify_upstream_error(
    provider: str, reply: HttpReply, message: str | None, *, upstream_code: str | None = None
) -> GatewayError:
    """Map an upstream error status (and its message) to the gateway's error codes.

    The upstream message is relayed only for client mistakes (4xx other than auth); 401/403 mean the
    gateway's own credentials were refused, so that text is never echoed.
    """
    status = reply.status
    retry_after = retry_after_seconds(reply.headers)
    safe = (message or "").strip()[:500]
    if status == 429:
        if upstream_code == "insufficient_quota":
            return ServerError(f"The {provider} account has no quota left.")
        return RateLimitExceeded(
            f"The {provider} provider is rate limiting: {safe}" if safe else None, retry_after=retry_after
        )
    if status in (401, 403):
        return ServerError(f"The {provider} provider rejected the gateway's credentials.")
    if status == 402:
        return ServerError(f"The {provider} account cannot be billed.")
    if status == 404:
        return ModelNotFound(f"The {provider} provider does not know this model: {safe}" if safe else None)
    if status in (408, 504):
        return GatewayTimeout(f"The {provider} provider timed out.")
    if (
        status == 413
        or upstream_code == "context_length_exceeded"
        or (400 <= status < 500 and safe and _CONTEXT_PATTERNS.search(safe))
    ):
        return ContextLengthExceeded(safe or None, param="messages")
    if 400 <= status < 500 and status != 424:  # 424 Failed Dependency: the upstream's own backend failed
        return InvalidRequest(f"The {provider} provider rejected the request: {safe}" if safe else None)
    return ServerError(f"The {provider} provider failed (HTTP {status}).", retry_after=retry_after)


def classify_stream_error(provider: str, status: int, message: str | None) -> GatewayError:
    """Map an error reported inside a stream that began with 200, given the status it stands for."""
    return classify_upstream_error(provider, HttpReply(status, {}, b""), message)
