"""Datasets (uploaded CSV files) and the rows they could not index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from profai.db.models import Dataset, DatasetRowError, Job

# A declarative class with __tablename__ maps to a Table; SQLAlchemy types __table__ as FromClause.
_ROW_ERRORS = cast(Table, DatasetRowError.__table__)


def create(session: Session, dataset_id: str, **fields: Any) -> Dataset:
    dataset = Dataset(id=dataset_id, **fields)
    session.add(dataset)
    session.flush()
    return dataset


def get(session: Session, dataset_id: str) -> Dataset | None:
    return session.get(Dataset, dataset_id, populate_existing=True)


def list_datasets(session: Session, namespace: str | None = None, *, everyone: bool = False,
                  owner_id: int | None = None) -> list[tuple[Dataset, Job | None]]:
    """Datasets newest first: one owner's (None: those from before accounts), or everyone's."""
    q = select(Dataset, Job).outerjoin(Job, Job.id == Dataset.id).order_by(Dataset.created_at.desc())
    if not everyone:
        q = q.where(Dataset.owner_id == owner_id if owner_id is not None else Dataset.owner_id.is_(None))
    if namespace:
        q = q.where(Dataset.namespace == namespace)
    return [(d, j) for d, j in session.execute(q).all()]


def namespace_exists(session: Session, namespace: str, owner_id: int | None) -> bool:
    """Whether the owner (None: the space from before accounts) has a dataset in the namespace."""
    owned = Dataset.owner_id == owner_id if owner_id is not None else Dataset.owner_id.is_(None)
    return (session.scalar(select(func.count()).where(Dataset.namespace == namespace, owned)) or 0) > 0


def set_total_rows(session: Session, dataset_id: str, total: int) -> None:
    session.execute(update(Dataset).where(Dataset.id == dataset_id).values(total_rows=total))


def add_errors(session: Session, dataset_id: str, errors: Iterable[dict[str, Any]], *, part: int | None = None) -> None:
    rows = [{"dataset_id": dataset_id, "part": part, **e} for e in errors]
    if rows:
        session.execute(_ROW_ERRORS.insert(), rows)


def clear_errors(session: Session, dataset_id: str, *, parts: Iterable[int] | None = None) -> None:
    """Forget the file-reading errors (parts=None), or those of the given parts, before a rerun."""
    q = delete(DatasetRowError).where(DatasetRowError.dataset_id == dataset_id)
    q = q.where(DatasetRowError.part.is_(None)) if parts is None else q.where(DatasetRowError.part.in_(list(parts)))
    session.execute(q)


def count_errors(session: Session, dataset_id: str) -> int:
    return session.scalar(select(func.count()).where(DatasetRowError.dataset_id == dataset_id)) or 0


def page_errors(session: Session, dataset_id: str, offset: int, limit: int) -> list[DatasetRowError]:
    q = (select(DatasetRowError).where(DatasetRowError.dataset_id == dataset_id)
         .order_by(DatasetRowError.line, DatasetRowError.id).offset(offset).limit(limit))
    return list(session.scalars(q))


def delete_dataset(session: Session, dataset_id: str, *, with_jobs: bool = True) -> None:
    """The dataset's record and row errors, and unless told otherwise its job and parts (a
    cancelled job's rows stay until its clean-up has run)."""
    session.execute(delete(DatasetRowError).where(DatasetRowError.dataset_id == dataset_id))
    if with_jobs:
        session.execute(delete(Job).where((Job.parent_id == dataset_id) | (Job.id == dataset_id)))
    session.execute(delete(Dataset).where(Dataset.id == dataset_id))


def blob_keys(session: Session) -> dict[str, str]:
    """Every dataset's id and the key of its uploaded file (for the orphan sweep)."""
    return {row.id: row.blob_key for row in session.execute(select(Dataset.id, Dataset.blob_key))}
