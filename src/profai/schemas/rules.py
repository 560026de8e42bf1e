"""What a request body may hold, stated so that the OpenAPI document says which requests can succeed.

RequestModel, the base of every JSON request body, enforces two rules itself: JSON's types as
the document states them (strict: no "5" for 5, no 0 for false), and no NUL character in any
text (PostgreSQL cannot store one). The other rules here are the services' own, which they check
with their own stable error codes (weak_password, empty_question...) for the API, the CLI and the
chat WebSocket alike: pydantic does not check them, the document only shows them (use them as a
Field's `json_schema_extra`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, GetJsonSchemaHandler, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

NUL = "\\u0000"
NO_NUL = f"^[^{NUL}]*$"
# The characters str.split() and str.strip() take for whitespace (Python's: JSON Schema's `\s`
# differs), as the body of a regex class; Unicode has none past the Basic Multilingual Plane.
SPACE = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x10000)) if c.isspace())
# Something besides whitespace: what a field the service strips must keep.
NOT_BLANK = f"^[^{NUL}]*[^{SPACE}{NUL}][^{NUL}]*$"


def stripped(pattern: str) -> str:
    """A regex for a value the service strips before matching it against ^`pattern`$ (a pattern
    that matches no NUL)."""
    return f"^[{SPACE}]*{pattern}[{SPACE}]*$"


def whole(value: Any) -> Any:
    """5.0 as 5: JSON Schema counts a number with no fraction as an integer, strict pydantic does not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# For an integer field of a RequestModel: an int, or a float with no fraction; never a bool or a
# string. After any Field(ge=..., lt=...) in the Annotated[], which the document shows only there.
WHOLE = BeforeValidator(whole)
Int = Annotated[int, WHOLE]


class RequestModel(BaseModel):
    """A JSON request body: strict types, and no NUL in its text fields (422 names the field)."""

    model_config = ConfigDict(strict=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain a NUL character (\\u0000)")
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        for field in schema.get("properties", {}).values():
            strings = [s for s in (field, *field.get("anyOf", ())) if s.get("type") == "string" and "enum" not in s]
            if strings and "pattern" not in field:  # a rule's own pattern excludes NUL already
                field["pattern"] = NO_NUL  # `pattern` binds strings only, so it may sit beside an anyOf
        return schema
