"""The gateway's error tree: the one place that gives every failure its HTTP status and error code."""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error the gateway answers with; carries status, code and a client-safe message."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "server_error"
    type: ClassVar[str] = "server_error"
    default_message: ClassVar[str] = "The gateway could not complete the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.param = param
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def envelope(self, request_id: str | None) -> dict[str, Any]:
        """The JSON body every error response carries (OpenAI-compatible)."""
        return {
            "error": {
                "code": self.code,
                "type": self.type,
                "message": self.message,
                "param": self.param,
                "request_id": request_id,
            }
        }

    def response_headers(self) -> dict[str, str]:
        """Headers that belong with this error (Retry-After and any extras)."""
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers.setdefault("Retry-After", str(max(1, round(self.retry_after))))
        return headers


# 400 ---------------------------------------------------------------------------------------------
class InvalidRequest(GatewayError):
    status, code, type = 400, "invalid_request", "invalid_request_error"
    default_message = "The request is not valid."


class UnsupportedMediaType(InvalidRequest):
    status = 415
    default_message = "The request body must be JSON (Content-Type: application/json)."


class ContextLengthExceeded(GatewayError):
    status, code, type = 400, "context_length_exceeded", "invalid_request_error"
    default_message = "The messages exceed the model's context window."


class UnsupportedOperation(GatewayError):
    status, code, type = 400, "unsupported_operation", "invalid_request_error"
    default_message = "The provider does not support this operation."


# 401 / 403 ---------------------------------------------------------------------------------------
class AuthenticationRequired(GatewayError):
    status, code, type = 401, "authentication_required", "authentication_error"
    default_message = "Authentication required: send X-API-Key or Authorization: Bearer."


class InvalidApiKey(GatewayError):
    status, code, type = 401, "invalid_api_key", "authentication_error"
    default_message = "The API key is not valid."


class InvalidToken(GatewayError):
    status, code, type = 401, "invalid_token", "authentication_error"
    default_message = "The token is not valid."


class PermissionDenied(GatewayError):
    status, code, type = 403, "permission_denied", "permission_error"
    default_message = "The credential lacks the permission this route needs."


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"
    default_message = "The form's security token is missing or wrong; reload the page and try again."


# 404 / 405 / 413 ---------------------------------------------------------------------------------
class NotFound(GatewayError):
    status, code, type = 404, "not_found", "not_found_error"
    default_message = "Not found."


class ModelNotFound(NotFound):
    code = "model_not_found"
    default_message = "The model is not known to the gateway."


class ProviderNotFound(NotFound):
    code = "provider_not_found"
    default_message = "The provider is not known to the gateway."


class MethodNotAllowed(GatewayError):
    status, code, type = 405, "method_not_allowed", "invalid_request_error"
    default_message = "The method is not allowed for this route."


class RequestTooLarge(GatewayError):
    status, code, type = 413, "request_too_large", "invalid_request_error"
    default_message = "The request body is too large."


# 429 ---------------------------------------------------------------------------------------------
class RateLimitExceeded(GatewayError):
    status, code, type = 429, "rate_limit_exceeded", "rate_limit_error"
    default_message = "Rate limit exceeded."


class BudgetExceeded(GatewayError):
    status, code, type = 429, "budget_exceeded", "rate_limit_error"
    default_message = "The key's spend budget is exhausted."


# 5xx ---------------------------------------------------------------------------------------------
class ServerError(GatewayError):
    status, code, type = 502, "server_error", "server_error"
    default_message = "The upstream provider failed."


class ServiceUnavailable(GatewayError):
    status, code, type = 503, "service_unavailable", "server_error"
    default_message = "The service is unavailable."


class Overloaded(ServiceUnavailable):
    default_message = "The gateway is at capacity; retry shortly."


class GatewayTimeout(GatewayError):
    status, code, type = 504, "timeout", "timeout_error"
    default_message = "The upstream provider did not answer in time."


class InternalError(GatewayError):
    status, code, type = 500, "internal_error", "server_error"
    default_message = "An unexpected error occurred."


class ConfigError(Exception):
    """Invalid configuration: raised at start-up with the file, the key and the problem."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"invalid configuration in {source}: {key}: {problem}")
