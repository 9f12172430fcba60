"""The one place where `requests` is used and its exceptions become the gateway's own errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from llmgateway.errors import GatewayTimeout, ServerError

DEFAULT_POOL_MAXSIZE = 1000
READ_CHUNK = 65536


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
    """An open streamed upstream response; yields raw lines and closes its socket on `close()`."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = response.headers

    def lines(self) -> Iterator[bytes]:
        """Lines without their terminator, as they arrive (read1 does not wait for a full buffer)."""
        raw = self._response.raw
        pending = b""
        try:
            while True:
                data = raw.read1(READ_CHUNK)
                if not data:
                    break
                pending += data
                if b"\n" not in data and b"\r" not in data:
                    continue
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    yield line.rstrip(b"\r")
        except requests.RequestException as exc:
            raise ServerError("The upstream stream was interrupted.") from exc
        except (OSError, Urllib3Error) as exc:  # read1 wraps socket timeouts and resets in urllib3's own errors
            raise _translate_read_error(exc) from exc
        if pending:
            yield pending.rstrip(b"\r")

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


def _translate_read_error(exc: BaseException) -> Exception:
    if isinstance(exc, (TimeoutError, ReadTimeoutError)) or "timed out" in str(exc).lower():
        return GatewayTimeout("The upstream provider stopped sending.")
    return ServerError("The upstream stream was interrupted.")


class HttpTransport:
    """A pooled keep-alive `requests.Session` for one provider in one worker."""

    def __init__(
        self,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        pool_maxsize: int = DEFAULT_POOL_MAXSIZE,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.session = requests.Session()
        self.session.trust_env = False  # never route provider traffic through ambient proxy settings
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if default_headers:
            self.session.headers.update(default_headers)

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
        return UpstreamStream(response)

    def close(self) -> None:
        self.session.close()

    def _send(
        self,
        url: str,
        body: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        *,
        stream: bool,
        read_timeout: float,
    ) -> requests.Response:
        merged = {"Content-Type": "application/json"}
        if headers:
            merged.update(headers)
        try:
            return self.session.post(
                url,
                data=orjson.dumps(body),
                headers=merged,
                stream=stream,
                timeout=(self.connect_timeout, read_timeout),
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise GatewayTimeout() from exc
        except requests.RequestException as exc:
            raise ServerError("Could not reach the upstream provider.") from exc
