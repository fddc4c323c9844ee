"""A task's config form, built from the JSON Schema of its config model, and back again.

Each top-level property becomes one form field: text (``url``/``email``/date inputs from
``format``), number, select (``enum``/``Literal``), checkbox, a list (one item per line) or a
JSON box for anything nested. Submitted text is turned back into JSON values here; the task's
pydantic model then validates the payload, so the rules live in one place and errors come
back naming ``payload.<field>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tickwork.domain.errors import PayloadError
from tickwork.domain.inputs import echo, plain

FIELD_PREFIX = "config."
FREE_FORM = "__payload__"
# Strings this long, or with names like these, get a multi-line box.
LONG_TEXT = 1000
LONG_TEXT_NAMES = frozenset({"body", "template", "script", "query", "sql", "message", "text"})
FORMAT_INPUT = {"uri": "url", "email": "email", "date": "date", "time": "time"}


@dataclass(slots=True)
class ConfigField:
    """One field of a task's config form."""

    name: str
    label: str
    kind: str  # text | textarea | number | select | checkbox | list | json | datetime
    required: bool = False
    nullable: bool = False
    help: str | None = None
    default: Any = None
    has_default: bool = False
    input_type: str = "text"
    options: list[str] = field(default_factory=list)
    item_type: str = "string"
    attrs: dict[str, str] = field(default_factory=dict)
    value: Any = None

    @property
    def input_name(self) -> str:
        """The name of the HTML input."""
        return FIELD_PREFIX + self.name

    @property
    def error_key(self) -> str:
        """The ``field`` a validation error about this field carries."""
        return "payload" if self.name == FREE_FORM else f"payload.{self.name}"

    @property
    def dom_id(self) -> str:
        """An id for the input (labels point at it)."""
        return "cfg-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (pydantic puts enums and nested models in ``$defs``)."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _resolve(schema, merged)
    if "allOf" in node and len(node["allOf"]) == 1:
        merged = {**_resolve(schema, node["allOf"][0]), **node}
        merged.pop("allOf")
        return merged
    return dict(node)


def _unwrap_nullable(
    schema: Mapping[str, Any], node: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """``anyOf: [X, null]`` as ``X`` plus "may be null"."""
    options = node.get("anyOf") or node.get("oneOf")
    if not options:
        return node, False
    resolved = [_resolve(schema, o) for o in options]
    concrete = [o for o in resolved if o.get("type") != "null"]
    nullable = len(concrete) < len(resolved)
    if len(concrete) == 1:
        inner = {**concrete[0], **{k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}}
        return inner, nullable
    if concrete and all("const" in o for o in concrete):
        return {"enum": [o["const"] for o in concrete], "type": "string"}, nullable
    return {**node, "type": "json"}, nullable


def _kind(name: str, node: dict[str, Any]) -> tuple[str, str]:
    """The widget and the HTML input type for a (resolved) property."""
    if "enum" in node or "const" in node:
        return "select", "select"
    kind = node.get("type")
    if isinstance(kind, list):
        concrete = [k for k in kind if k != "null"]
        kind = concrete[0] if len(concrete) == 1 else "json"
    if kind == "boolean":
        return "checkbox", "checkbox"
    if kind in ("integer", "number"):
        return "number", "number"
    if kind == "string":
        fmt = node.get("format")
        if fmt == "date-time":
            return "datetime", "datetime-local"
        if fmt in FORMAT_INPUT:
            return "text", FORMAT_INPUT[fmt]
        long = int(node.get("maxLength", 0) or 0) >= LONG_TEXT
        if long or name.lower() in LONG_TEXT_NAMES:
            return "textarea", "textarea"
        return "text", "text"
    if kind == "array":
        items = node.get("items") or {}
        if items.get("type") in ("string", "integer", "number") and "enum" not in items:
            return "list", "textarea"
    return "json", "textarea"


def _attrs(node: dict[str, Any], kind: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if kind == "number":
        integer = node.get("type") == "integer"
        attrs["step"] = "1" if integer else "any"
        if "minimum" in node:
            attrs["min"] = plain(node["minimum"])
        if "maximum" in node:
            attrs["max"] = plain(node["maximum"])
    if kind in ("text", "textarea"):
        if "minLength" in node:
            attrs["minlength"] = str(node["minLength"])
        if "maxLength" in node:
            attrs["maxlength"] = str(node["maxLength"])
        if "pattern" in node and kind == "text":
            attrs["pattern"] = str(node["pattern"]).removeprefix("^").removesuffix("$")
    return attrs


def _hint(node: dict[str, Any], kind: str) -> str | None:
    """Constraints in words, for the help line under a field."""
    parts = []
    if "exclusiveMinimum" in node:
        parts.append(f"more than {plain(node['exclusiveMinimum'])}")
    elif "minimum" in node and kind == "number":
        parts.append(f"at least {plain(node['minimum'])}")
    if "exclusiveMaximum" in node:
        parts.append(f"less than {plain(node['exclusiveMaximum'])}")
    elif "maximum" in node and kind == "number":
        parts.append(f"at most {plain(node['maximum'])}")
    if kind == "list":
        parts.append("one per line")
    if kind == "json":
        parts.append("JSON")
    return ", ".join(parts) or None


# Words a label writes in capitals.
_ACRONYMS = frozenset({"api", "csv", "dns", "html", "http", "https", "id", "ip", "json", "sql",
                       "smtp", "ssl", "tls", "uri", "url", "utc"})  # fmt: skip


def _label(name: str, title: Any) -> str:
    """A field's label: its explicit title, or its name in words ("json_body" is "JSON
    body"; pydantic's automatic "Json Body" is not a title anyone chose)."""
    words = name.replace("_", " ").split()
    if isinstance(title, str) and title.strip() and title != " ".join(w.title() for w in words):
        return title
    shown = [w.upper() if w.lower() in _ACRONYMS else w.lower() for w in words] or [name]
    first = shown[0]
    return " ".join([first if first.isupper() else first.capitalize(), *shown[1:]])


def fields_for(schema: Mapping[str, Any]) -> list[ConfigField]:
    """The form fields of a config schema, in declaration order."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return [
            ConfigField(
                name=FREE_FORM,
                label="Payload",
                kind="json",
                input_type="textarea",
                help="A JSON object passed to the task as is",
                default={},
                has_default=True,
            )
        ]
    required = set(schema.get("required", []))
    result = []
    for name, raw in properties.items():
        node, nullable = _unwrap_nullable(schema, _resolve(schema, raw))
        kind, input_type = _kind(name, node)
        options: list[str] = []
        if kind == "select":
            values = node.get("enum", [node.get("const")])
            options = [str(v) for v in values]
        items = node.get("items") or {}
        result.append(
            ConfigField(
                name=name,
                label=_label(name, raw.get("title") or node.get("title")),
                kind=kind,
                required=name in required,
                nullable=nullable,
                help=raw.get("description") or node.get("description"),
                default=raw.get("default", node.get("default")),
                has_default="default" in raw or "default" in node,
                input_type=input_type,
                options=options,
                item_type=str(items.get("type", "string")),
                attrs=_attrs(node, kind),
            )
        )
        hint = _hint(node, kind)
        if hint:
            current = result[-1].help
            result[-1].help = f"{current} ({hint})" if current else hint.capitalize()
    return result


def display_value(item: ConfigField, value: Any) -> Any:
    """The value as the input shows it: text, or a bool for checkboxes."""
    if item.kind == "checkbox":
        return bool(value)
    if value is None:
        return ""
    if item.kind == "list" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if item.kind == "json":
        return json.dumps(value, indent=2)
    if item.kind == "datetime" and isinstance(value, str):
        return value[:16]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def with_values(
    fields: list[ConfigField], payload: Mapping[str, Any] | None, *, use_defaults: bool = True
) -> list[ConfigField]:
    """The fields filled from a stored payload (or the defaults)."""
    payload = payload or {}
    for item in fields:
        if item.name == FREE_FORM:
            item.value = json.dumps(dict(payload), indent=2) if payload else "{}"
        elif item.name in payload:
            item.value = display_value(item, payload[item.name])
        elif use_defaults and item.has_default:
            item.value = display_value(item, item.default)
        else:
            item.value = False if item.kind == "checkbox" else ""
    return fields


def with_submitted(fields: list[ConfigField], form: Mapping[str, list[str]]) -> list[ConfigField]:
    """The fields filled with what the user submitted (to show the form again)."""
    for item in fields:
        values = form.get(item.input_name, [])
        if item.kind == "checkbox":
            item.value = "true" in values
        else:
            item.value = values[-1] if values else ""
    return fields


# A number longer than this is no number anyone means; refusing it first also keeps int()
# from its quadratic conversion of thousands of digits.
MAX_NUMBER_LENGTH = 40


def _scalar(item: ConfigField, kind: str, text: str, where: str) -> Any:
    if kind in ("integer", "number") and len(text) > MAX_NUMBER_LENGTH:
        raise PayloadError(
            f"{where}: a number is at most {MAX_NUMBER_LENGTH} characters", field=where
        )
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]+", text):
            raise PayloadError(f"{where}: {echo(text)} is not a whole number", field=where)
        return int(text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise PayloadError(f"{where}: {echo(text)} is not a number", field=where) from None
        return int(number) if number.is_integer() and "." not in text else number
    return text


def payload_from_form(
    fields: list[ConfigField],
    form: Mapping[str, list[str]],
    previous: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The payload the form describes, and what could not be read, by ``payload.<field>``.

    A field left empty is omitted (the model's default applies). A field whose value equals
    the default and that the stored payload did not set is omitted too, so a default later
    changed in code still applies to this schedule. A field that cannot be read (a number
    that is not one, JSON that does not parse) is left out and reported.
    """
    previous = previous or {}
    payload: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for item in fields:
        values = form.get(item.input_name, [])
        where = item.error_key
        try:
            if item.kind == "checkbox":
                value: Any = "true" in values
            else:
                text = (values[-1] if values else "").strip()
                if not text:
                    if item.name == FREE_FORM:
                        continue
                    if item.required and not item.nullable:
                        raise PayloadError(f"{item.label} is required", field=where)
                    if item.required:
                        payload[item.name] = None
                    continue
                value = _parse(item, text, where)
            if item.name == FREE_FORM:
                if not isinstance(value, dict):
                    raise PayloadError("the payload must be a JSON object", field=where)
                return value, problems
        except PayloadError as exc:
            problems[where] = exc.message.removeprefix(f"{where}: ")
            continue
        if (
            item.has_default
            and value == item.default
            and item.name not in previous
            and not item.required
        ):
            continue
        payload[item.name] = value
    return payload, problems


def _parse(item: ConfigField, text: str, where: str) -> Any:
    if item.kind == "number":
        integer = item.attrs.get("step") == "1"
        return _scalar(item, "integer" if integer else "number", text, where)
    if item.kind == "select":
        if item.options and text not in item.options:
            raise PayloadError(f"{where}: choose one of {', '.join(item.options)}", field=where)
        return text
    if item.kind == "list":
        separators = r"\n" if item.item_type == "string" else r"[\n,\s]"
        lines = [part.strip() for part in re.split(separators, text) if part.strip()]
        return [_scalar(item, item.item_type, line, where) for line in lines]
    if item.kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise PayloadError(
                f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                field=where,
            ) from None
        except RecursionError:
            raise PayloadError(f"{where}: the JSON is nested too deeply", field=where) from None
    return text
