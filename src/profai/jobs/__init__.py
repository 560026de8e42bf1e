"""Durable jobs: the handle pipelines report through, execution, runners, reaper, compute pool."""
