"""The one error body every failure answers with (api/errors.py writes it), as the OpenAPI document shows it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


def _no_null_defaults(schema: dict[str, Any]) -> None:
    """Optional fields are left out of a body rather than sent as null: the document says no default."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", ...) is None:
            del prop["default"]


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description='Where the problem is: a body field ("question"), a path or query parameter '
                                   '("course_id", "limit"), dotted for nested fields ("filter.price")')
    problem: str = Field(description="What is wrong with it")


class ErrorBody(BaseModel):
    """{"code", "message", "detail"}, plus `errors` when the request failed validation and
    `retry_after` when a rate limit refused it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)

    code: str = Field(description="Stable machine-readable code, e.g. course_not_found, invalid_input, rate_limited")
    message: str = Field(description="What went wrong, for people")
    detail: str = Field(description="The message again, for clients written against FastAPI's default shape")
    # Left out of the body (not null) when there is nothing to say: SkipJsonSchema keeps `null` out of the document.
    errors: list[FieldProblem] | SkipJsonSchema[None] = Field(
        None, description="Request validation (422): each field in error and its problem")
    retry_after: Annotated[int, Field(ge=1)] | SkipJsonSchema[None] = Field(
        None, description="Rate limit (429): seconds to wait, as in the Retry-After header")
