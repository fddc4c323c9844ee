"""What the API's routers share: documented error responses, parameters, dependencies."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request

from tickwork.app import Tickwork
from tickwork.domain.errors import InvalidInputError
from tickwork.web.api.schemas import MAX_ID, NO_CONTROL_CHARACTERS, ErrorBody
from tickwork.web.state import WebState, web_state

SOURCE = "api"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed request (invalid JSON, bad header)"),
    401: _error("Not authenticated"),
    403: _error("The role does not allow this, or the CSRF token is missing"),
    404: _error("No such object (or it belongs to another tenant)"),
    409: _error("Conflicts with the current state"),
    413: _error("Request body too large"),
    415: _error("Body is not JSON"),
    422: _error("Invalid input; `field` names the problem"),
    429: _error("Too many failed logins"),
    503: _error("The database is unavailable"),
}


async def get_state(request: Request) -> WebState:
    """The web app's shared state."""
    return web_state(request)


async def get_tickwork(request: Request) -> Tickwork:
    """The :class:`Tickwork` app the web server serves."""
    return web_state(request).tickwork


State = Annotated[WebState, Depends(get_state)]
App = Annotated[Tickwork, Depends(get_tickwork)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most items per page")]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
TextFilter = Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL_CHARACTERS)]
StatusFilter = Annotated[
    list[Annotated[str, Query(max_length=200)]] | None,
    Query(description="One or more statuses: repeat the parameter, or separate with commas"),
]
MetadataFilter = Annotated[
    str | None,
    Query(
        max_length=300,
        pattern=NO_CONTROL_CHARACTERS,
        description='A metadata key ("team"), or a key and its value ("team=payments")',
    ),
]


def id_path(what: str) -> Any:
    """A path parameter holding an object id."""
    return Path(ge=1, le=MAX_ID, description=f"The {what}'s id")


def page(items: list[Any], limit: int) -> tuple[list[Any], Any]:
    """The first ``limit`` of ``limit + 1`` fetched items, and the id to continue from."""
    if len(items) > limit:
        items = items[:limit]
        return items, items[-1].id
    return items, None


def status_values(values: list[str] | None, statuses: type[Enum]) -> list[str] | None:
    """The statuses a ``status`` filter asks for (repeated or comma-separated); a value that
    is not one of ``statuses`` is refused naming the field."""
    if not values:
        return None
    wanted = [part.strip() for value in values for part in value.split(",") if part.strip()]
    allowed = {s.value for s in statuses}
    for value in wanted:
        if value not in allowed:
            raise InvalidInputError(
                f"{value[:80]!r} is not one of {', '.join(sorted(allowed))}", field="status"
            )
    return wanted or None
