"""The console blueprint: sign-in and sign-out, static assets, HTML error pages and the pages' security headers."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, g, redirect, render_template, request, send_from_directory, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns; flask's Response is one

from llmgateway.api.console import auth
from llmgateway.api.error_handlers import from_http_exception
from llmgateway.api.security import PUBLIC, requires
from llmgateway.errors import AuthenticationRequired, GatewayError, InvalidApiKey, InvalidToken
from llmgateway.services import services

STATIC_DIR = Path(__file__).parent / "static"
#: Pages load scripts, styles and images from the gateway only; data reaches scripts as inert JSON blocks.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

blp = Blueprint("console", __name__, url_prefix="/admin", template_folder="templates")


@blp.after_request
def security_headers(response: BaseResponse) -> BaseResponse:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"  # a created key, a session's CSRF token: never cached
    return auth.renew_session(response)


@blp.errorhandler(GatewayError)
def gateway_error(error: GatewayError) -> BaseResponse | tuple[str, int, dict[str, str]]:
    """HTML instead of the JSON envelope; a GET without a valid session goes to the sign-in page."""
    g.error_code = error.code
    if isinstance(error, AuthenticationRequired | InvalidToken) and request.method == "GET":
        response = redirect(url_for("console.sign_in", next=_safe_next(request.full_path)), code=303)
        if request.cookies.get(auth.COOKIE):
            auth.end_session(response)
        return response
    page = render_template(
        "console/error.html", status=error.status, message=error.message, signed_in=auth.current_session() is not None
    )
    return page, error.status, error.response_headers()


@blp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
    error = from_http_exception(exc)
    headers = {name: value for name, value in exc.get_response().headers.items() if name in ("Retry-After", "Allow")}
    g.error_code = error.code
    page = render_template(
        "console/error.html",
        status=exc.code or 500,
        message=error.message,
        signed_in=auth.current_session() is not None,
    )
    return page, exc.code or 500, headers


@blp.app_context_processor
def template_globals() -> dict[str, object]:
    return {"csrf_token": auth.csrf_token, "csrf_field": auth.CSRF_FIELD}


@blp.route("/static/<path:filename>")
@requires(PUBLIC)
def static(filename: str) -> BaseResponse:
    return send_from_directory(STATIC_DIR, filename, max_age=3600)


@blp.route("/")
@auth.console_page
def index() -> BaseResponse:
    return redirect(url_for("console.usage"), code=303)


@blp.route("/sign-in", methods=["GET"])
@requires(PUBLIC, rate_limited=True)
def sign_in() -> BaseResponse:
    return _sign_in_page()


@blp.route("/sign-in", methods=["POST"])
@requires(PUBLIC, rate_limited=True)  # limited per client address: this is where keys would be guessed
def sign_in_submit() -> BaseResponse:
    auth.check_sign_in_csrf()
    presented = request.form.get("api_key", "").strip()
    if not presented:
        return _sign_in_page("Enter an admin API key.", 400)
    try:
        principal = services().authenticator.authenticate_key(presented)
    except InvalidApiKey:
        return _sign_in_page("That key is not valid.", 401)
    if not principal.allows("admin"):
        return _sign_in_page("That key has no admin permission; the console needs an admin key.", 403)
    response = redirect(_safe_next(request.args.get("next")), code=303)
    auth.start_session(response, principal)
    return response


@blp.route("/sign-out", methods=["POST"])
@auth.console_page
def sign_out() -> BaseResponse:
    auth.check_csrf()
    response = redirect(url_for("console.sign_in"), code=303)
    auth.end_session(response)
    return response


def _sign_in_page(error: str | None = None, status: int = 200) -> BaseResponse:
    nonce, fresh = auth.sign_in_nonce()
    html = render_template(
        "console/sign_in.html",
        error=error,
        next=request.args.get("next", ""),
        sign_in_token=auth.sessions().csrf_token(auth.SIGN_IN_PURPOSE, nonce),
    )
    response = Response(html, status=status, mimetype="text/html")
    if fresh:
        auth.set_cookie(response, auth.SIGN_IN_COOKIE, nonce, max_age=3600)
    return response


def _safe_next(target: str | None) -> str:
    """Only a console path of this gateway: never an absolute or scheme-relative URL (no open redirect)."""
    target = target or ""
    inside = target.startswith("/admin/") and not target.startswith("/admin/sign-")
    if inside and "\\" not in target and ".." not in target:
        return target.rstrip("?")
    return url_for("console.usage")
