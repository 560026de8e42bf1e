"""Durable jobs: records and state changes, the kinds that run pipelines as jobs, execution,
runners (local pool | Celery), reaper, the one clean-up path and the orphan sweep."""
