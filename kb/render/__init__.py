"""Rendering: results for a terminal, as JSON, and diffs as Markdown; text made safe to print."""
