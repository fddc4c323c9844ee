"""Every error as ``{"error": {"code", "message", "field"}}``, from one set of handlers.

:class:`~tickwork.domain.errors.TickworkError` subclasses carry their own status and code;
FastAPI's validation errors, malformed JSON, unknown routes and wrong methods are
translated here too, so no input produces a bare traceback or a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from tickwork.auth.throttle import TooManyAttemptsError
from tickwork.domain.errors import AuthenticationError, TickworkError
from tickwork.escaping import escape_control
from tickwork.web.security import LoginRequired, login_url

log = logging.getLogger("tickwork.web")

API_PREFIX = "/api/"
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}
_FRIENDLY = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "json_invalid": "is not valid JSON",
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The API's error object."""
    detail: dict[str, Any] = {"code": code, "message": message}
    if field:
        detail["field"] = field
    return {"error": detail}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error as JSON, or as an HTML page for UI paths when the UI renders those."""
    renderer = None
    state = getattr(request.app.state, "tickwork", None)
    if state is not None:
        renderer = state.page_error_renderer
    if renderer is not None and not request.url.path.startswith(API_PREFIX):
        accept = request.headers.get("accept", "")
        if "text/html" in accept or "hx-request" in request.headers:
            response: Response = renderer(request, status, code, message)
            for key, value in (headers or {}).items():
                response.headers[key] = value
            return response
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


def _request_line(request: Request) -> str:
    """Method and path for a log line, control characters escaped (both came from the
    client)."""
    return escape_control(f"{request.method} {request.url.path}")


async def _tickwork_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TickworkError)
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="tickwork"'
    if isinstance(exc, TooManyAttemptsError):
        headers["Retry-After"] = str(int(exc.retry_after) + 1)
    if exc.status_code >= 500:
        log.warning("%s: %s", _request_line(request), escape_control(exc.message))
    return error_response(request, exc.status_code, exc.code, exc.message, exc.field, headers)


# Pydantic names the branch of a union (``interval.constrained-float``) in an error's
# location; callers know the field only.
_UNION_BRANCH = re.compile(
    r"^(constrained-)?(str|int|float|bool|bytes|datetime|date|list|dict|tuple|set)(\[.*\])?$"
    r"|^(function-|json-or-python|lax-or-strict|tagged-union)"
)


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    parts = [p for p in parts if not _UNION_BRANCH.match(p)]
    return ".".join(parts) or "body"


def _most_telling(errors: Sequence[Any]) -> Any:
    """Of the errors about the first failing field, one that is not just "wrong type" (a
    union reports every branch: "not a string" says less than "more than the maximum")."""
    field = _field(errors[0].get("loc", ()))
    same = [e for e in errors if _field(e.get("loc", ())) == field]
    specific = [e for e in same if not str(e.get("type", "")).endswith("_type")]
    return (specific or same)[0]


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if not errors:
        return error_response(request, 422, "invalid_input", "the request is not valid")
    first = _most_telling(errors)
    kind = str(first.get("type", ""))
    location = tuple(first.get("loc", ()))
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        message = "the body is not valid JSON" + (f": {reason}" if reason else "")
        return error_response(request, 400, "invalid_json", message, "body")
    field = _field(location)
    if location == ("body",) and kind in ("model_attributes_type", "dict_type", "missing"):
        message = (
            "a JSON object body is required"
            if kind == "missing"
            else "the body must be a JSON object"
        )
        return error_response(request, 422, "invalid_input", message, "body")
    message = _FRIENDLY.get(kind, str(first.get("msg", "is not valid")))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    others = {_field(e.get("loc", ())) for e in errors} - {field}
    more = f" (and {len(others)} more fields)" if others else ""
    return error_response(request, 422, "invalid_input", f"{field}: {message}{more}", field)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "error")
    if status == 404:
        message = f"no such path: {request.url.path}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    elif status == 400 and "parsing the body" in str(exc.detail):
        # Bytes that are not UTF-8, or JSON nested too deeply to parse.
        return error_response(
            request, 400, "invalid_json", "the body could not be parsed as JSON", "body"
        )
    else:
        message = str(exc.detail)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(request, status, code, message, None, headers)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    target = login_url(exc.next_url)
    if "hx-request" in request.headers:
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _data_error(request: Request, exc: Exception) -> Response:
    # A value the validation above let through but the database refused (out of range,
    # malformed): the caller's input, so a 422 rather than a 500.
    log.warning(
        "%s: the database refused a value: %s", _request_line(request), escape_control(str(exc))
    )
    return error_response(
        request, 422, "invalid_input", "a value is out of range or malformed for the database"
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s failed unexpectedly", _request_line(request), exc_info=exc)
    return error_response(
        request, 500, "internal_error", "internal error; the server log has the details"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(TickworkError, _tickwork_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(RecursionError, _data_error)
    app.add_exception_handler(Exception, _unexpected)
