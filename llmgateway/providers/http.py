"""The one place where `requests` is used and its exceptions become the gateway's own errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from llmgateway.errors import GatewayTimeout, ServerError
from llmgateway.providers.attempt import current_attempt

DEFAULT_POOL_MAXSIZE = 1000
READ_CHUNK = 65536
#: The longest line an upstream stream may send before the gateway gives up on it (a `data:` line holds one
#: JSON chunk, a few KB at most), so an upstream that never sends a newline cannot grow a buffer without end.
MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A complete upstream answer: status, headers and the raw body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return orjson.loads(self.body) if self.body else None
        except orjson.JSONDecodeError:
            return None


class UpstreamStream:
    """An open streamed upstream response; yields raw lines and closes its socket on `close()`.

    Until the first body bytes arrive the read timeout is the provider's `timeout` (time to first byte);
    after them it is `idle_timeout`, the longest silence allowed between chunks.
    """

    def __init__(self, response: requests.Response, idle_timeout: float | None = None) -> None:
        self._response = response
        self._idle_timeout = idle_timeout
        self.status = response.status_code
        self.headers = response.headers

    def lines(self) -> Iterator[bytes]:
        """Lines without their terminator, as they arrive (read1 does not wait for a full buffer)."""
        raw = self._response.raw
        pending = b""
        first = True
        try:
            while True:
                data = raw.read1(READ_CHUNK)
                if not data:
                    break
                if first:
                    first = False
                    self._use_idle_timeout()
                pending += data
                if b"\n" in data:
                    *complete, pending = pending.split(b"\n")
                    for line in complete:
                        yield line.rstrip(b"\r")
                if len(pending) > MAX_LINE_BYTES:
                    raise ServerError("The upstream stream sent an over-long line.")
        except requests.RequestException as exc:
            raise ServerError("The upstream stream was interrupted.") from exc
        except (OSError, Urllib3Error) as exc:  # read1 wraps socket timeouts and resets in urllib3's own errors
            raise _translate_read_error(exc) from exc
        if pending:
            yield pending.rstrip(b"\r")

    def _use_idle_timeout(self) -> None:
        # requests' read timeout applies to each recv, so on the open socket it is exactly an idle timeout.
        sock = _socket_of(self._response.raw)
        if sock is not None and self._idle_timeout:
            try:
                sock.settimeout(self._idle_timeout)
            except OSError:
                pass

    def read_all(self) -> HttpReply:
        """Read the whole body (used for an error answer before the stream began)."""
        try:
            body = self._response.content
        except requests.RequestException:
            body = b""
        finally:
            self.close()
        return HttpReply(self.status, self.headers, body)

    def close(self) -> None:
        """Close the upstream connection now (the socket is not returned to the pool mid-stream)."""
        try:
            self._response.raw.close()
        finally:
            self._response.close()


def _socket_of(raw: Any) -> Any:
    """The socket a streamed urllib3 response reads from. When the upstream answered `Connection: close`,
    http.client has already dropped the connection's `sock`, and only the response's file object holds it."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is None:
        reader = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    return sock


def _translate_read_error(exc: BaseException) -> Exception:
    if isinstance(exc, (TimeoutError, ReadTimeoutError)) or "timed out" in str(exc).lower():
        return GatewayTimeout("The upstream provider stopped sending.")
    return ServerError("The upstream stream was interrupted.")


class HttpTransport:
    """Pooled keep-alive upstream connections for one provider in one worker: `requests`' HTTPAdapter (urllib3's
    pool, timeouts, Response objects), sent to directly.

    `Session.post` would add what the gateway never uses: cookies, hooks, redirects, environment proxies and
    the setting merges, about 0.3 ms of CPU per call. Requests are prepared here instead, with the same
    default headers a Session sends.
    """

    def __init__(
        self,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        stream_idle_timeout: float | None = None,
        pool_maxsize: int = DEFAULT_POOL_MAXSIZE,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.stream_idle_timeout = stream_idle_timeout
        self.adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self._headers = default_request_headers()
        self._headers["Content-Type"] = "application/json"
        self._headers.update(default_headers or {})
        self._urls: dict[str, str] = {}  # each upstream URL as PreparedRequest.prepare_url normalises it

    def post(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> HttpReply:
        """POST JSON and read the whole answer."""
        response = self._send(url, body, headers, stream=False, read_timeout=timeout or self.timeout)
        return HttpReply(response.status_code, response.headers, response.content)

    def open_stream(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        read_timeout: float | None = None,
    ) -> UpstreamStream:
        """POST JSON and return once the status line and headers arrived."""
        response = self._send(url, body, headers, stream=True, read_timeout=read_timeout or self.timeout)
        return UpstreamStream(response, self.stream_idle_timeout)

    def close(self) -> None:
        self.adapter.close()

    def _send(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        *,
        stream: bool,
        read_timeout: float,
    ) -> requests.Response:
        connect_timeout = self.connect_timeout
        attempt = current_attempt()
        remaining = attempt.remaining() if attempt is not None else None
        if remaining is not None:  # the executor's request deadline caps every timeout of this attempt
            if remaining <= 0:
                raise GatewayTimeout("The request deadline passed before the upstream answered.")
            connect_timeout, read_timeout = min(connect_timeout, remaining), min(read_timeout, remaining)
        try:
            response = self.adapter.send(
                self._prepare(url, orjson.dumps(body), headers),
                stream=stream,
                timeout=(connect_timeout, read_timeout),
                verify=True,
                proxies={},  # never through ambient proxy settings
            )
            if not stream:
                response.content  # noqa: B018 - read the body now, inside the timeouts' error handling
        except requests.Timeout as exc:
            raise GatewayTimeout() from exc
        except requests.RequestException as exc:
            raise ServerError("Could not reach the upstream provider.") from exc
        if attempt is not None:
            attempt.status = response.status_code
        return response

    def _prepare(self, url: str, body: bytes, headers: Mapping[str, str] | None) -> PreparedRequest:
        request = PreparedRequest()
        request.method = "POST"
        request.url = self._urls.get(url) or self._prepared_url(url)
        request.headers = CaseInsensitiveDict(self._headers)
        if headers:
            request.headers.update(headers)
        request.headers["Content-Length"] = str(len(body))
        request.body = body
        return request

    def _prepared_url(self, url: str) -> str:
        try:
            prepared = PreparedRequest()
            prepared.prepare_url(url, None)
        except requests.RequestException as exc:
            raise ServerError("The upstream URL is not valid.") from exc
        if prepared.url is None:  # prepare_url always sets it; this tells the type checker
            raise ServerError("The upstream URL is not valid.")
        if len(self._urls) < 256:  # base URLs are few; paths carry the model only for a few providers
            self._urls[url] = prepared.url
        return prepared.url


def default_request_headers() -> CaseInsensitiveDict[str]:
    """The headers a requests.Session sends by default (User-Agent, Accept-Encoding, Accept, Connection)."""
    return requests.utils.default_headers()
