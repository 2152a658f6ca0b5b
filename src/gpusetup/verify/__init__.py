"""verify: benchmarks run in the target interpreter, scored here against per-model data."""
