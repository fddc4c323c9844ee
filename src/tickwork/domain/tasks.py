"""The task registry: what can run, with what config, and how it is retried."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic

from tickwork.domain.actor import Actor
from tickwork.domain.errors import (
    InvalidInputError,
    PayloadError,
    PermissionDeniedError,
    UnknownTaskError,
)
from tickwork.domain.flows import (
    FlowGraph,
    GroupSettings,
    check_graph,
    task_dependencies,
    task_groups,
)
from tickwork.domain.inputs import echo

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024

Handler = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Task:
    """A registered task: a handler plus the defaults for runs of it."""

    name: str
    handler: Handler
    config: type[pydantic.BaseModel] | None = None
    description: str | None = None
    max_attempts: int = 1
    timeout: float | None = None
    queue: str = "default"
    priority: int = 0
    retry_backoff: float = 2.0
    retry_backoff_max: float = 600.0
    admin_only: bool = False
    tenant_scoped: bool = False
    is_async: bool = False
    wants_config: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)
    # The groups the task belongs to, and the tasks whose runs must succeed before its run
    # in a flow starts.
    groups: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()

    def allowed_for(self, actor: Actor, tenant_id: str | None) -> bool:
        """Whether ``actor`` may enqueue or schedule this task for ``tenant_id``.

        An admin-only task needs an admin bound to no tenant. So does a tenant-scoped task
        without a tenant: its runs act within their tenant, and a run without one acts on
        every tenant's data.
        """
        if self.admin_only or (self.tenant_scoped and tenant_id is None):
            return actor.is_unbound_admin
        return True

    def check_allowed(self, actor: Actor, tenant_id: str | None) -> None:
        """Refuse with :class:`PermissionDeniedError` (naming ``task``) unless
        :meth:`allowed_for`."""
        if self.allowed_for(actor, tenant_id):
            return
        if self.admin_only:
            reason = "only an admin bound to no tenant may use it"
        else:
            reason = (
                "without a tenant it acts on every tenant's data, which only an admin "
                "bound to no tenant may do"
            )
        raise PermissionDeniedError(f"task {self.name!r}: {reason}", field="task")

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the task's payload (its config model), for forms and docs."""
        if self.config is None:
            return {"type": "object", "additionalProperties": True}
        return self.config.model_json_schema()

    def validate_payload(
        self, payload: Any, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES, field: str = "payload"
    ) -> dict[str, Any]:
        """Check ``payload`` against the config model; return it as stored (JSON values).

        Only the fields the caller set are stored, so defaults changed later in code apply
        to existing schedules.
        """
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise PayloadError("payload must be a JSON object", field=field)
        try:
            size = len(json.dumps(payload, separators=(",", ":"), allow_nan=False))
        except (TypeError, ValueError, RecursionError) as exc:
            raise PayloadError(f"payload is not JSON-serializable: {exc}", field=field) from exc
        if size > max_bytes:
            raise PayloadError(
                f"payload is {size} bytes; the limit is {max_bytes} bytes", field=field
            )
        if self.config is None:
            return payload
        try:
            model = self.config.model_validate(payload)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            location = ".".join(str(part) for part in first["loc"])
            where = f"{field}.{location}" if location else field
            raise PayloadError(f"{where}: {first['msg']}", field=where) from exc
        stored: dict[str, Any] = model.model_dump(mode="json", exclude_unset=True)
        return stored

    def build_argument(self, payload: dict[str, Any]) -> Any:
        """What the handler receives after the context: the config model, or the payload."""
        if self.config is None:
            return payload
        return self.config.model_validate(payload)


class TaskRegistry:
    """Tasks by name. The app owns one; built-in tasks are added to it on demand."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self.group_settings: dict[str, GroupSettings] = {}

    def declare_group(self, settings: GroupSettings) -> GroupSettings:
        """Add a group's settings (``app.group``); declaring one twice is an error."""
        if settings.name in self.group_settings:
            raise InvalidInputError(f"group {settings.name!r} is declared twice", field="name")
        self.group_settings[settings.name] = settings
        return settings

    def graph(self) -> FlowGraph:
        """The dependency graph of the registered tasks and their groups."""
        members: dict[str, list[str]] = {}
        for task in self._tasks.values():
            for group in task.groups:
                members.setdefault(group, []).append(task.name)
        return FlowGraph(
            {t.name: t.depends_on for t in self._tasks.values()}, members, self.group_settings
        )

    def check_flows(self) -> FlowGraph:
        """The graph, refused (naming the tasks) when it has a cycle, a dependency on an
        unknown task or a declared group without tasks."""
        graph = self.graph()
        check_graph(graph)
        return graph

    def register(self, task: Task) -> Task:
        """Add ``task``; a second task with the same name is an error."""
        if task.name in self._tasks and self._tasks[task.name].handler is not task.handler:
            raise InvalidInputError(f"task {task.name!r} is already registered", field="name")
        self._tasks[task.name] = task
        return task

    def get(self, name: str, field: str = "task") -> Task:
        """The task called ``name``, or :class:`UnknownTaskError` naming ``field``."""
        try:
            return self._tasks[name]
        except (KeyError, TypeError):
            raise UnknownTaskError(f"unknown task {echo(name)}", field=field) from None

    def find(self, name: str | None) -> Task | None:
        """The task called ``name``, or ``None``."""
        return None if name is None else self._tasks.get(name)

    def validate_flow_payload(
        self,
        tasks: Sequence[str],
        payload: Any,
        *,
        max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        field: str = "payload",
    ) -> dict[str, dict[str, Any]]:
        """A flow's payload: task name -> that task's payload, each checked against its
        config model (errors name ``payload.<task>...``); only ``tasks`` may be named, and a
        task left out must accept an empty payload."""
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise PayloadError("a group's payload must map task names to payloads", field=field)
        chosen = set(tasks)
        validated: dict[str, dict[str, Any]] = {}
        for name, value in payload.items():
            where = f"{field}.{str(name)[:200]}"
            if name not in chosen:
                raise PayloadError(f"{echo(name)} is not a task of this flow", field=where)
            validated[name] = self.get(name).validate_payload(
                value, max_bytes=max_bytes, field=where
            )
        # A task given no payload runs with an empty one: it must be valid too, or the run
        # would only fail when it starts.
        for name in tasks:
            if name not in validated:
                self.get(name).validate_payload({}, max_bytes=max_bytes, field=f"{field}.{name}")
        return validated

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[Task]:
        return iter(sorted(self._tasks.values(), key=lambda t: t.name))

    def __len__(self) -> int:
        return len(self._tasks)


def make_task(name: str, handler: Handler, **options: Any) -> Task:
    """Build a :class:`Task`, reading what it can from the handler itself."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInputError("task name must be a non-empty string", field="name")
    max_attempts = int(options.get("max_attempts", 1))
    if max_attempts < 1:
        raise InvalidInputError("max_attempts must be at least 1", field="max_attempts")
    config = options.get("config")
    if config is not None and not (
        isinstance(config, type) and issubclass(config, pydantic.BaseModel)
    ):
        raise InvalidInputError("config must be a pydantic model class", field="config")
    parameters = [
        p
        for p in inspect.signature(handler).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    description = options.get("description") or inspect.getdoc(handler)
    return Task(
        name=name,
        handler=handler,
        config=config,
        description=description.strip().splitlines()[0] if description else None,
        max_attempts=max_attempts,
        timeout=options.get("timeout"),
        queue=options.get("queue", "default"),
        priority=int(options.get("priority", 0)),
        retry_backoff=float(options.get("retry_backoff", 2.0)),
        retry_backoff_max=float(options.get("retry_backoff_max", 600.0)),
        admin_only=bool(options.get("admin_only", False)),
        tenant_scoped=bool(options.get("tenant_scoped", False)),
        is_async=inspect.iscoroutinefunction(handler),
        wants_config=len(parameters) >= 2,
        tags=tuple(options.get("tags", ())),
        groups=task_groups(options.get("group")),
        depends_on=task_dependencies(name, options.get("depends_on")),
    )
