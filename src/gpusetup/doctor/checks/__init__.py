"""Checks: pure functions from facts to findings with stable ids (like a linter's rule codes)."""
