"""Use-cases per feature. They take the Container and plain values; they never see HTTP."""
