"""Marshmallow schemas derived from the settings dataclasses: each field's type, default and rule declared once."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any, TypeVar, dataclass_transform

from marshmallow import RAISE, Schema, fields, post_load

#: Where a dataclass field keeps the marshmallow field that loads and validates it.
RULE = "llmgateway.rule"
T = TypeVar("T")


def setting(rule: fields.Field[Any], *, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value the config file (or an environment variable) sets, checked by `rule`."""
    return dataclasses.field(default=default, default_factory=factory, metadata={RULE: rule})


@dataclass_transform(frozen_default=True, field_specifiers=(setting, dataclasses.field))
def settings_type(cls: type[T]) -> type[T]:
    """A frozen dataclass of settings (type checkers learn from this decorator that `setting` declares fields)."""
    return dataclasses.dataclass(frozen=True)(cls)


def section(settings_type: type) -> fields.Nested:
    """A nested settings section loaded into `settings_type`."""
    return fields.Nested(schema_for(settings_type))


@cache
def schema_for(settings_type: type) -> type[Schema]:
    """The strict schema of a settings dataclass, building an instance of it on load.

    A dataclass may set the class attributes `schema_base` (a schema whose fields and checks it shares) and
    `unknown_fields` (marshmallow's `unknown` option), and a classmethod `from_fields(data)` when loading needs
    more than turning lists into tuples.
    """
    base: type[Schema] = getattr(settings_type, "schema_base", Schema)
    declared: dict[str, Any] = {}
    for item in dataclasses.fields(settings_type):
        if RULE in item.metadata:
            declared[item.name] = item.metadata[RULE]
        elif item.name not in base._declared_fields and _required(item):
            raise TypeError(f"{settings_type.__name__}.{item.name} is required but has no rule to load it")

    names = {item.name for item in dataclasses.fields(settings_type)}

    def build(self: Schema, data: dict[str, Any], **_: Any) -> Any:
        values = {
            name: tuple(value) if name in names and isinstance(value, list) else value for name, value in data.items()
        }
        from_fields = getattr(settings_type, "from_fields", None)
        return from_fields(values) if from_fields is not None else settings_type(**values)

    declared["Meta"] = type("Meta", (), {"unknown": getattr(settings_type, "unknown_fields", RAISE)})
    declared["build"] = post_load(build)
    return type(f"{settings_type.__name__}Schema", (base,), declared)


def _required(item: dataclasses.Field[Any]) -> bool:
    return item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING


def first_error(messages: Any, prefix: str = "") -> tuple[str | None, str]:
    """The first (dotted field path, message) pair in marshmallow's nested error dict; no path at the root."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            return first_error(value, f"{prefix}.{key}" if prefix else str(key))
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, (dict, list)):
            return first_error(first, prefix)
        return prefix or None, str(first)
    return prefix or None, str(messages)
