"""Pipelines: ordered steps that report progress. Importing this package registers them."""

from profai.pipelines import (
    csv_to_vectors,  # noqa: F401
    pdf_to_course,  # noqa: F401
)
