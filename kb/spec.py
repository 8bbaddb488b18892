"""Which sources a command reads: the shipped manifest, another one, or ``--source`` paths.

Kept free of heavy imports (no pathlib, no TOML): the query path builds a spec on every run.
"""

from __future__ import annotations

import os

SHIPPED_MANIFEST = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "faq_source", "sources.toml"
)


class SourceSpec:
    """What the user asked for: a manifest file, or ad-hoc ``--source PATH[=URL]`` arguments."""

    __slots__ = ("manifest", "only", "paths", "sources_root")

    def __init__(
        self,
        manifest: str | os.PathLike[str] | None = None,
        paths: tuple[str, ...] = (),
        only: tuple[str, ...] = (),
        sources_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.manifest = os.fspath(manifest) if manifest is not None else None
        self.paths = tuple(paths)
        self.only = tuple(sorted(set(only)))  # keep sources named NAME or NAME.<anything>
        # Every source file must lie under this folder (symlinks resolved); None: anywhere.
        root = sources_root if sources_root is not None else os.environ.get("FAQ_SOURCES_ROOT")
        self.sources_root = os.fspath(root) if root else None

    def __repr__(self) -> str:
        return (
            f"SourceSpec(manifest={self.manifest!r}, paths={self.paths!r}, only={self.only!r}, "
            f"sources_root={self.sources_root!r})"
        )

    def restricted(self, *names: str) -> SourceSpec:
        """The same sources, keeping only those named NAME or NAME.<part>."""
        return SourceSpec(self.manifest, self.paths, names, self.sources_root)

    def keeps(self, name: str) -> bool:
        """Whether a source of this name is part of the spec."""
        return not self.only or any(name == o or name.startswith(o + ".") for o in self.only)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SourceSpec) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def manifest_path(self) -> str:
        """The manifest this spec reads (the shipped one when none was given), absolute."""
        return os.path.realpath(self.manifest or SHIPPED_MANIFEST)

    @property
    def key(self) -> str:
        """A stable description of the request, stored in the index to detect a switch."""
        only = f"\nonly:{','.join(self.only)}" if self.only else ""
        if self.sources_root:  # an index built unconfined is never used confined, unchecked
            only += f"\nroot:{os.path.realpath(os.path.expanduser(self.sources_root))}"
        if self.paths:
            return "source:" + "\n".join(_absolute_arg(p) for p in self.paths) + only
        return f"manifest:{self.manifest_path}{only}"


def split_source_arg(arg: str) -> tuple[str, str]:
    """Split ``PATH[=URL]`` into path and URL ('' if none); a path may itself contain '='."""
    if is_url(arg):  # a remote rst file: its own query may hold '=', so split at "=http"
        head, sep, tail = arg.partition("=http")
        return (head, "http" + tail) if sep else (arg, "")
    if "=" in arg and not os.path.exists(arg):
        path, _, url = arg.partition("=")
        return path, url
    return arg, ""


def is_url(text: str) -> bool:
    """Whether a source path is a remote http(s) URL rather than a file."""
    return text.startswith(("http://", "https://"))


def _absolute_arg(arg: str) -> str:
    path, url = split_source_arg(arg)
    if is_url(path):
        return arg
    absolute = os.path.realpath(os.path.expanduser(path))
    return f"{absolute}={url}" if url else absolute
