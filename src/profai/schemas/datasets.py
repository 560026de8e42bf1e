"""CSV dataset requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonDict

from profai.schemas.rules import NOT_BLANK, Int, RequestModel, stripped
from profai.services.datasets import _OPERATORS as FILTER_OPERATORS  # the operators check_filter accepts
from profai.services.datasets import (
    MAX_FILTER_KEYS,
    MAX_FILTER_TEXT,
    MAX_IN_VALUES,
    MAX_QUERY_CHARS,
    MAX_TOP_K,
    NAMESPACE,
)

# A filter value (services.datasets.check_filter): a short string, a 64-bit integer, a number or a boolean.
_SCALAR: JsonDict = {"anyOf": [{"type": "string", "maxLength": MAX_FILTER_TEXT},
                     {"type": "integer", "minimum": -(2**63), "exclusiveMaximum": 2**63},
                     {"type": "number", "not": {"type": "integer"}}, {"type": "boolean"}]}
_LIST: JsonDict = {"type": "array", "items": _SCALAR, "minItems": 1, "maxItems": MAX_IN_VALUES}
FILTER_RULES: JsonDict = {
    "maxProperties": MAX_FILTER_KEYS,
    "propertyNames": {"maxLength": 64, "not": {"pattern": "^\\$"}},
    "additionalProperties": {"anyOf": [_SCALAR, {
        "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
        "properties": {op: _LIST if op in ("$in", "$nin") else _SCALAR for op in sorted(FILTER_OPERATORS)}}]},
}


class TaskAccepted(BaseModel):
    task_id: str
    dataset_id: str
    status: str
    status_url: str
    message: str


class PartCounts(BaseModel):
    total: int
    done: int
    failed: int
    running: int
    pending: int


class RowProblem(BaseModel):
    line: int | None
    last_line: int | None = None
    row_id: str | None
    code: str
    reason: str


class ErrorPage(BaseModel):
    items: list[RowProblem]
    offset: int
    limit: int
    total: int


class TaskStatus(BaseModel):
    task_id: str
    dataset_id: str
    namespace: str
    filename: str
    status: str
    progress: int
    message: str
    total_rows: int | None
    processed_rows: int
    failed_rows: int
    parts: PartCounts
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    error: str | None
    error_code: str | None
    errors: ErrorPage
    status_url: str


class DatasetOut(BaseModel):
    dataset_id: str
    task_id: str
    namespace: str
    filename: str
    size: int
    status: str | None
    total_rows: int | None
    spec: dict[str, Any]
    created_at: datetime


class DatasetList(BaseModel):
    datasets: list[DatasetOut]


class QueryIn(RequestModel):
    namespace: str = Field(description="The namespace the dataset was uploaded to",
                           json_schema_extra={"pattern": stripped(NAMESPACE.pattern.strip("^$"))})
    query: str = Field(description="Text to search for by meaning",
                       json_schema_extra={"maxLength": MAX_QUERY_CHARS, "pattern": NOT_BLANK})
    top_k: Int = Field(5, description=f"How many rows to return (1-{MAX_TOP_K})",
                       json_schema_extra={"minimum": 1, "maximum": MAX_TOP_K})
    filter: dict[str, Any] | None = Field(None, description='Metadata filter: {"column": value} or '
                                                              '{"column": {"$gte": 3}}',
                                          json_schema_extra=FILTER_RULES)


class QueryHit(BaseModel):
    id: str
    score: float
    text: str
    line: int | None
    dataset_id: str | None
    metadata: dict[str, Any]


class QueryOut(BaseModel):
    namespace: str
    query: str
    results: list[QueryHit]
