"""Resolve a ``SourceSpec`` into the rst files that make up the knowledge base (build time)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from kb.errors import ManifestError
from kb.spec import SourceSpec, is_url, split_source_arg

if TYPE_CHECKING:
    from collections.abc import Callable

    from kb.ingest.site_labels import Scan

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PLAIN_STEM = re.compile(r"[A-Za-z0-9_.-]+")
_PLAIN_BASE = re.compile(r"https?://[A-Za-z0-9_.:@-]+(/[A-Za-z0-9_.~-]+)*/")


@dataclass(frozen=True)
class Source:
    """One rst file and the published page its deep links point into."""

    name: str
    path: Path
    url: str
    aliases: Path | None = None  # maintainers' alternate questions, next to the source
    origin: str | None = None  # a remote source's http(s) URL (``path`` is its cached copy)
    max_age: float | None = None  # a remote source's manifest ``max_age`` (seconds)
    inventory: str | None = None  # the project's Sphinx objects.inv (local path or URL)
    fetch_warning: str | None = None  # the remote copy could not be refreshed
    xrefs: tuple[tuple[str, str, str], ...] = ()  # other sources' labels it refers to

    @property
    def shown(self) -> str | None:
        """How messages name a remote source (its URL); None for a local file."""
        return self.origin


class Sources(list[Source]):
    """The sources of a spec, and warnings about files skipped on the way."""

    def __init__(
        self,
        sources: list[Source],
        warnings: list[str] | None = None,
        scans: dict[str, Scan] | None = None,
    ) -> None:
        super().__init__(sources)
        self.warnings = list(warnings or [])
        self.scans = scans or {}  # the labels scan of each file with any, by path


def resolve_sources(
    spec: SourceSpec,
    index_dir: str | None = None,
    *,
    fetch: bool = False,
    labels: bool = True,
    known: Callable[[Source], Scan | None] | None = None,
) -> Sources:
    """Return the sources a spec names, checking names, paths and URLs.

    Remote sources (an http(s) ``path``) are cached under ``index_dir`` (default: the
    spec's index folder) and asked for again when due, or always with ``fetch``. With
    ``labels`` (for a build), each source also gets the other sources' section labels its
    ``:ref:`` roles name: a read of every source, which a check of the spec can skip,
    and a rebuild can for files ``known`` gives the earlier scan of.

    Raises:
        ManifestError: the manifest is missing or malformed, or a ``--source`` is unusable.
        SourceError: a remote source cannot be fetched and has no cached copy.
        BuildError: a source path is missing, a folder, not a regular file or a symlink
            loop (every such source listed).
    """
    warnings: list[str] = []
    sources = (
        _from_paths(spec.paths, warnings)
        if spec.paths
        else _from_manifest(Path(spec.manifest_path))
    )
    if any(s.origin for s in sources):
        from kb.index.reader import default_index_dir
        from kb.ingest.remote import localize

        sources = localize(sources, index_dir or default_index_dir(spec.key), force=fetch)
    if spec.only:
        kept = [s for s in sources if spec.keeps(s.name)]
        if not kept:
            names = ", ".join(s.name for s in sources)
            raise ManifestError(f"no source named {' or '.join(spec.only)} (there are: {names})")
        sources = kept
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise ManifestError(f"two sources are named {source.name!r}; names must be unique")
        seen.add(source.name)
    if not sources:
        raise ManifestError("no sources: the manifest lists none and no --source was given")
    _check_paths(sources, spec.sources_root)
    if labels and len(sources) > 1:
        from kb.ingest.site_labels import with_site_labels

        labelled, scans = with_site_labels(sources, known)
        return Sources(labelled, warnings, scans)
    return Sources(sources, warnings)


def _check_paths(sources: list[Source], root: str | None) -> None:
    """Every source (and aliases file) must be a regular file, under ``root`` if given."""
    from kb.errors import BuildError, SourceError
    from kb.files import regular_problem

    confine = Path(os.path.realpath(os.path.expanduser(root))) if root else None
    problems = []
    for source in sources:
        for path, what in ((source.path, "source"), (source.aliases, "aliases file")):
            if path is None:
                continue
            problem = regular_problem(path)
            if confine is not None and not Path(os.path.realpath(path)).is_relative_to(confine):
                problem = f"outside the sources root {confine} (--sources-root, FAQ_SOURCES_ROOT)"
            if problem:
                problems.append(SourceError(str(path), None, f"{what} {source.name}: {problem}"))
    if problems:
        raise BuildError(problems)


def _resolve(path: Path, where: str) -> Path:
    """``path`` made absolute with symlinks resolved.

    Raises:
        ManifestError: a symlink loop or an unreadable folder on the way.
    """
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        reason = "a symlink loop" if "loop" in str(exc).lower() else str(exc)
        raise ManifestError(f"{where}: cannot resolve {path}: {reason}") from None


def _alias_file(path: Path) -> Path | None:
    sidecar = path.with_suffix(".aliases.toml")
    return sidecar if sidecar.is_file() else None


def _from_manifest(manifest: Path) -> list[Source]:
    import tomllib  # only when (re)building: the query path never parses TOML

    from kb.files import MAX_CONFIG_BYTES, read_regular

    try:
        data = tomllib.loads(read_regular(manifest, MAX_CONFIG_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{manifest}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{manifest}: cannot read manifest: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{manifest}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ManifestError(f"{manifest}: not valid TOML: nested too deeply") from None
    entries = data.get("source")
    if not isinstance(entries, list):
        raise ManifestError(f"{manifest}: expected [[source]] tables with name, path and url")
    sources = []
    for number, item in enumerate(entries, 1):
        where = f"{manifest}: [[source]] #{number}"
        if not isinstance(item, dict):
            raise ManifestError(f"{where}: expected a table")
        unknown = set(item) - {"name", "path", "url", "aliases", "max_age", "inventory"}
        if unknown:
            raise ManifestError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name, rel, url = item.get("name"), item.get("path"), item.get("url")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ManifestError(f"{where}: 'name' must be a short word (letters, digits, _.-)")
        if not isinstance(rel, str) or not rel:
            raise ManifestError(f"{where}: 'path' must be the rst file, relative to the manifest")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ManifestError(f"{where}: 'url' must be the published http(s) page of the file")
        remote = rel if is_url(rel) else None
        path = Path(rel) if remote else _resolve(manifest.parent / rel, where)
        age = item.get("max_age")
        if age is not None and (not isinstance(age, int | float) or age < 0):
            raise ManifestError(f"{where}: 'max_age' must be a number of seconds")
        inventory = item.get("inventory")
        if inventory is not None and (not isinstance(inventory, str) or not inventory):
            raise ManifestError(f"{where}: 'inventory' must be an objects.inv path or URL")
        if inventory and not is_url(inventory):
            inventory = str((manifest.parent / inventory).resolve())
        aliases = item.get("aliases")
        if aliases is not None and not isinstance(aliases, str) and aliases is not False:
            raise ManifestError(
                f"{where}: 'aliases' must be the path of an aliases TOML file (or false: none)"
            )
        alias_path: Path | None
        if aliases is False:  # no alternate wordings, not even a sidecar beside the source
            alias_path = None
        elif aliases:
            alias_path = _resolve(manifest.parent / aliases, where)
            if alias_path is None or not alias_path.is_file():
                raise ManifestError(f"{where}: aliases file {alias_path} not found")
        else:
            alias_path = None if remote else _alias_file(path)
        age = float(age) if age is not None else None
        sources.append(Source(name, path, url, alias_path, remote, age, inventory))
    return sources


def _from_paths(args: tuple[str, ...], warnings: list[str]) -> list[Source]:
    sources: list[Source] = []
    taken: set[str] = set()  # the names given so far
    for arg in args:
        raw, url = split_source_arg(arg)
        if url and not url.startswith(("http://", "https://")):
            raise ManifestError(f"--source {arg}: the URL after '=' must start with http(s)://")
        if is_url(raw):
            stem = Path(raw.split("?")[0].rstrip("/")).stem or "faq"
            sources.append(Source(_unique(stem, taken), Path(raw), url or raw, origin=raw))
            continue
        path = _resolve(Path(raw), f"--source {raw}")
        if path.is_dir():
            files = _folder_files(path, warnings)
            if not files:
                raise ManifestError(f"--source {raw}: the folder holds no .rst (or .txt) file")
            base = url if not url or url.endswith("/") else url + "/"
            for file, aliases in files:
                page = _page_url(base, file.stem) if base else file.as_uri()
                sources.append(Source(_unique(file.stem, taken), file, page, aliases))
        else:
            if not path.exists():
                raise ManifestError(f"--source {raw}: no such file or folder")
            page = url or path.as_uri()
            sources.append(Source(_unique(path.stem, taken), path, page, _alias_file(path)))
    return sources


def _folder_files(folder: Path, warnings: list[str]) -> list[tuple[Path, Path | None]]:
    """A folder's pages (``kb.files.page_names``: its ``*.rst`` files, else ``*.txt``)
    with their aliases files; those that are not regular files are skipped with a
    warning (a FIFO would block, /dev/zero fill memory: never read).

    One listing of the folder: a file is stat'ed only where the listing cannot tell it
    regular (a symlink, an odd file system), an aliases file only where it is listed.
    """
    from kb.files import page_names, regular_problem

    with os.scandir(folder) as listing:
        found = {entry.name: entry for entry in listing}
    files = []
    for name in page_names(found):
        file = folder / name
        entry = found[name]
        problem = None if _is_regular(entry) else regular_problem(file)
        if problem:
            warnings.append(f"{file}: skipped: {problem}")
            continue
        listed = file.with_suffix(".aliases.toml").name in found
        files.append((file, _alias_file(file) if listed else None))
    return files


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """Whether the listing says ``entry`` is a regular file, without a stat if it can."""
    try:
        return not entry.is_symlink() and entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _page_url(base: str, stem: str) -> str:
    """``urljoin(base, stem + ".html")``, without urljoin for a plain stem."""
    if _PLAIN_STEM.fullmatch(stem) and _PLAIN_BASE.fullmatch(base) and "/." not in base:
        return base + stem + ".html"
    return urljoin(base, stem + ".html")


def _unique(stem: str, taken: set[str]) -> str:
    """A source name from a file stem, not yet in ``taken`` (which it joins)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", stem) or "faq"
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate
