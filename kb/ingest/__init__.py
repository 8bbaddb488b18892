"""Ingest.

ReStructuredText sources (local or remote, with aliases) parsed by docutils into entries.
"""
