"""ProfAI: turns teaching material into courses."""

__version__ = "0.1.0"
