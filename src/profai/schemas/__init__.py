"""Pydantic request and response models, per feature."""
