"""Routes per feature."""
