"""Maintainers' tools over a knowledge base: checks, link checks, diffs, overviews, evaluation."""
