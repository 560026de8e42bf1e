"""What an operator sees of a running ProfAI: Prometheus metrics (metrics.py) and log lines that
carry the request and job they belong to (logs.py). Imports no layer of ProfAI, so every layer
may record a metric or bind a log context."""
