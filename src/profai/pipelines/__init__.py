"""Pipelines: ordered steps that report progress. Importing this package registers them."""

from profai.pipelines import pdf_to_course  # noqa: F401
