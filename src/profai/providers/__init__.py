"""Providers: embedder, generator and speech, each a small Protocol with backends beside it."""
