"""HTTP and WebSocket API."""

from profai.api.app import create_app

__all__ = ["create_app"]
