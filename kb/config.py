"""One configuration for every command: flags > environment > config file > shipped FAQ.

The config file is the nearest ``faq-kb.toml`` from the working directory upward (or a
``pyproject.toml`` with a ``[tool.faq-kb]`` table), stopping below ``$HOME``'s parent,
else ``$XDG_CONFIG_HOME/faq-kb/config.toml``. Finding it costs a few ``stat`` calls; TOML
is parsed only when a file is found, so a cold ``faq-search`` stays light.
"""

from __future__ import annotations

import os

from kb.errors import FaqError

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, which costs a cold query ~4 ms to import
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from typing import Any

    from kb.cli.main import SearchOptions

CONFIG_NAME = "faq-kb.toml"
PYPROJECT_TABLE = "tool.faq-kb"
_KEYS = ("manifest", "index", "semantic")


class ConfigError(FaqError):
    """A config file is unreadable or holds a key or value faq-kb does not understand."""


class Config:
    """What a config file says; paths are absolute, None where it says nothing."""

    __slots__ = ("index", "manifest", "path", "semantic")

    def __init__(
        self,
        path: str | None = None,
        manifest: str | None = None,
        index: str | None = None,
        semantic: bool | None = None,
    ) -> None:
        self.path, self.manifest, self.index, self.semantic = path, manifest, index, semantic

    def __repr__(self) -> str:
        return (
            f"Config(path={self.path!r}, manifest={self.manifest!r}, index={self.index!r}, "
            f"semantic={self.semantic!r})"
        )


def user_config_path(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_CONFIG_HOME/faq-kb/config.toml`` (default ``~/.config/faq-kb/config.toml``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "faq-kb", "config.toml")


def find_config(start: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The config file that applies in ``start`` (default: the working directory), or None."""
    try:
        directory = os.path.abspath(start or os.getcwd())
    except OSError:  # the working directory was deleted
        directory = None
    home = os.path.expanduser("~")
    stop = os.path.dirname(home) if os.path.dirname(home) != home else None
    while directory is not None and directory != stop:
        candidate = os.path.join(directory, CONFIG_NAME)
        if os.path.isfile(candidate):
            return candidate
        pyproject = os.path.join(directory, "pyproject.toml")
        if _has_tool_table(pyproject):
            return pyproject
        parent = os.path.dirname(directory)
        directory = parent if parent != directory else None
    user = user_config_path(env)
    return user if os.path.isfile(user) else None


def _has_tool_table(path: str) -> bool:
    # A plain substring test: most pyproject.toml files are not faq-kb's, and are not parsed.
    try:
        with open(path, "rb") as handle:
            return b"[" + PYPROJECT_TABLE.encode() in handle.read()
    except OSError:
        return False


def load_config(path: str) -> Config:
    """Read and check one config file.

    Raises:
        ConfigError: unreadable, not TOML, or an unknown key or a value of the wrong type.
    """
    import tomllib  # only when a config file exists

    try:
        with open(path, "rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    in_pyproject = os.path.basename(path) == "pyproject.toml"
    if in_pyproject:
        data = data.get("tool", {}).get("faq-kb", {})
    where = f"{path}: [{PYPROJECT_TABLE}]" if in_pyproject else path
    known = _KEYS if in_pyproject else (*_KEYS, "source")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(known)})"
        )
    folder = os.path.dirname(os.path.abspath(path))
    manifest = _path(data, "manifest", folder, where)
    if "source" in data:
        if manifest is not None:
            raise ConfigError(
                f"{where}: give either manifest = PATH or [[source]] tables, not both"
            )
        manifest = os.path.abspath(path)  # the config file is its own manifest
    semantic = data.get("semantic")
    if semantic is not None and not isinstance(semantic, bool):
        raise ConfigError(f"{where}: 'semantic' must be true or false")
    return Config(path, manifest, _path(data, "index", folder, where), semantic)


def _path(data: dict[str, Any], key: str, folder: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: '{key}' must be a path (relative to the config file)")
    return os.path.join(folder, os.path.expanduser(value))


def apply(
    args: argparse.Namespace | SearchOptions, env: Mapping[str, str] | None = None
) -> Config | None:
    """Fill in the source, index and semantic options a command line left out.

    Each comes from the environment (``FAQ_MANIFEST``; ``FAQ_INDEX`` and ``FAQ_SEMANTIC``
    are read where they are used), else from the config file. Returns the config file
    read, if one was needed and found.

    Raises:
        ConfigError: the config file is unusable.
    """
    env = os.environ if env is None else env
    wants_manifest = not getattr(args, "source", None) and not getattr(args, "manifest", None)
    if wants_manifest and env.get("FAQ_MANIFEST"):
        args.manifest = os.path.abspath(os.path.expanduser(env["FAQ_MANIFEST"]))
        wants_manifest = False
    wants_index = hasattr(args, "index") and not args.index and not env.get("FAQ_INDEX")
    wants_semantic = getattr(args, "semantic", False) is None and not env.get("FAQ_SEMANTIC")
    if not (wants_manifest or wants_index or wants_semantic):
        return None
    path = find_config(env=env)
    if path is None:
        return None
    config = load_config(path)
    if wants_manifest and config.manifest:
        args.manifest = config.manifest
    if wants_index and config.index:
        args.index = config.index
    if wants_semantic and config.semantic is not None:
        args.semantic = config.semantic
    return config
