"""CSV dataset requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


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


class QueryIn(BaseModel):
    namespace: str = Field(description="The namespace the dataset was uploaded to")
    query: str = Field(description="Text to search for by meaning")
    top_k: int = Field(5, description="How many rows to return (1-100)")
    filter: dict[str, Any] | None = Field(None, description='Metadata filter: {"column": value} or '
                                                              '{"column": {"$gte": 3}}')


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
