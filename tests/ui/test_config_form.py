"""Config forms from a task's JSON Schema, and submitted text back to a payload (no database)."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, Field

from tickwork.web.ui import config_form, formatting


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Config(BaseModel):
    url: AnyHttpUrl = Field(description="Where")
    method: Literal["GET", "POST"] = "GET"
    colour: Colour = Colour.RED
    retries: int = Field(default=3, ge=0, le=10)
    ratio: float = Field(default=0.5, gt=0)
    verbose: bool = False
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    codes: list[int] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = Field(default="", max_length=10_000)


def _fields() -> dict[str, config_form.ConfigField]:
    return {f.name: f for f in config_form.fields_for(Config.model_json_schema())}


def test_each_schema_type_gets_its_widget() -> None:
    fields = _fields()
    assert (fields["url"].kind, fields["url"].input_type, fields["url"].required) == (
        "text",
        "url",
        True,
    )
    assert fields["method"].kind == "select"
    assert fields["method"].options == ["GET", "POST"]
    assert fields["colour"].options == ["red", "blue"]  # an enum behind a $ref
    assert fields["retries"].attrs == {"step": "1", "min": "0", "max": "10"}
    assert fields["ratio"].attrs["step"] == "any"
    assert "more than 0" in (fields["ratio"].help or "").lower()
    assert fields["verbose"].kind == "checkbox"
    assert fields["note"].nullable
    assert fields["note"].kind == "text"
    assert (fields["tags"].kind, fields["codes"].item_type) == ("list", "integer")
    assert fields["headers"].kind == "json"
    assert fields["body"].kind == "textarea"


def test_submitted_text_becomes_typed_json_leaving_untouched_defaults_out() -> None:
    fields = list(_fields().values())
    form = {
        "config.url": ["https://example.com/hook"],
        "config.method": ["GET"],
        "config.retries": ["5"],
        "config.ratio": ["0.5"],
        "config.verbose": ["false", "true"],
        "config.tags": ["a, b\nc"],
        "config.codes": ["200, 204"],
        "config.headers": ['{"X-Key": "k"}'],
    }
    payload, problems = config_form.payload_from_form(fields, form)
    assert problems == {}
    assert payload == {
        "url": "https://example.com/hook",
        "retries": 5,
        "verbose": True,
        "tags": ["a, b", "c"],
        "codes": [200, 204],
        "headers": {"X-Key": "k"},
    }
    # A default the stored payload had set stays set.
    kept, _ = config_form.payload_from_form(fields, form, previous={"method": "POST"})
    assert kept["method"] == "GET"


def test_unreadable_fields_are_reported_by_name_and_the_rest_still_read() -> None:
    fields = list(_fields().values())
    payload, problems = config_form.payload_from_form(
        fields,
        {
            "config.url": [""],
            "config.retries": ["many"],
            "config.codes": ["200, nope"],
            "config.headers": ["{oops"],
            "config.method": ["PUT"],
            "config.ratio": ["2"],
        },
    )
    assert set(problems) == {
        "payload.url",
        "payload.retries",
        "payload.codes",
        "payload.headers",
        "payload.method",
    }
    assert "not a whole number" in problems["payload.retries"]
    assert "not valid JSON" in problems["payload.headers"]
    assert payload == {"ratio": 2}


def test_a_task_without_a_config_model_takes_a_json_object() -> None:
    fields = config_form.fields_for({"type": "object", "additionalProperties": True})
    assert [f.name for f in fields] == [config_form.FREE_FORM]
    payload, problems = config_form.payload_from_form(fields, {"config.__payload__": ['{"a": 1}']})
    assert (payload, problems) == ({"a": 1}, {})
    _, problems = config_form.payload_from_form(fields, {"config.__payload__": ["[1]"]})
    assert problems == {"payload": "the payload must be a JSON object"}


def test_stored_payloads_fill_the_form() -> None:
    fields = config_form.with_values(
        list(_fields().values()), {"tags": ["a", "b"], "verbose": True, "retries": 7}
    )
    values = {f.name: f.value for f in fields}
    assert values["tags"] == "a\nb"
    assert values["verbose"] is True
    assert values["retries"] == "7"
    assert values["ratio"] == "0.5"  # the default
    assert values["headers"] == ""  # default_factory: left empty, the model fills it


def test_durations_and_relative_times_read_naturally() -> None:
    from datetime import UTC, datetime, timedelta

    assert formatting.duration(0.0421) == "42 ms"
    assert formatting.duration(12.34) == "12.3 s"
    assert formatting.duration(245) == "4 min 05 s"
    assert formatting.duration(7500) == "2 h 05 min"
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert formatting.relative(now + timedelta(minutes=5), now) == "in 5 min"
    assert formatting.relative(now - timedelta(hours=3), now) == "3 h ago"
    zone = formatting.viewer_zone("Europe/London")
    summer = datetime(2030, 7, 1, 12, tzinfo=UTC)
    assert formatting.absolute(summer, zone) == "2030-07-01 13:00"
    assert formatting.viewer_zone("Not/AZone").key == "UTC"
