"""Fuzzing the ingest: generated and mutated reStructuredText (see docs/reliability.md)."""
