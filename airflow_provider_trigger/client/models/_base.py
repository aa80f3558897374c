"""Shared pydantic base: snake_case attributes, camelCase aliases, unknown fields kept."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

E = TypeVar("E", bound=StrEnum)
M = TypeVar("M", bound="TriggerModel")


class TriggerModel(BaseModel):
    """Base of every response model. A newer server's extra fields are kept, never rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="allow",
        arbitrary_types_allowed=True,
    )


class ApiObject(TriggerModel):
    """A response object with no fixed schema: every field is kept as returned (by camelCase name)."""


def tolerant_enum(enum: type[E]) -> Callable[[Any], E | str]:
    """A validator keeping unknown values as plain strings instead of failing."""

    values = {member.value: member for member in enum}

    def validate(value: Any) -> E | str:
        if isinstance(value, enum):
            return value
        text = str(value)
        return values.get(text, text)

    return validate


def parser(model: type[M]) -> Callable[[Any], M]:
    """The ``ApiRequest.parse`` function for a model."""
    return model.model_validate


def list_parser(model: type[M]) -> Callable[[Any], list[M]]:
    """Parse a JSON array (or ``{"data": [...]}``) into models."""

    def parse(body: Any) -> list[M]:
        items = body.get("data", []) if isinstance(body, dict) else body or []
        return [model.model_validate(item) for item in items]

    return parse
