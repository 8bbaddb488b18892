"""Errors that reach the user: each says what is wrong and what to do."""

from __future__ import annotations


class FaqError(Exception):
    """Base of every error faq-kb reports to a user (exit code 2, never a traceback)."""


class SourceError(FaqError):
    """A source file is missing, unreadable, not UTF-8 or not valid reStructuredText."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, int | None, str]]:
        # Parsed in a worker process, raised (listed) in the parent.
        return (SourceError, (self.path, self.line, self.message))


class BuildError(FaqError):
    """One or more sources failed to build; ``problems`` holds every one of them."""

    def __init__(self, problems: list[SourceError]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ManifestError(FaqError):
    """The sources manifest or a ``--source`` argument is unusable."""


class IndexFileError(FaqError):
    """The index is missing, corrupt or from another version, and cannot be rebuilt here."""
