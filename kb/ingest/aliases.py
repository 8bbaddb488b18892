"""Maintainers' alternate questions: a ``NAME.aliases.toml`` sidecar next to a source.

```toml
[aliases]
"too-many-open-file-descriptors" = ["ulimit too low", "OSError: [Errno 24] Too many open files"]
```
Keys are entry ids without the source name — for most entries the section id, the part
of the deep link after ``#`` (``faq-kb list`` shows them); values are other ways users ask
that question. They are searched like the title, and never shown as the answer.
"""

from __future__ import annotations

from kb.errors import SourceError
from kb.ingest.sources import Source
from kb.models import Entry


def apply_aliases(source: Source, entries: list[Entry]) -> tuple[list[Entry], list[str]]:
    """Attach the sidecar's alternate questions to their entries.

    Returns the entries and warnings (an alias for a section that does not exist).

    Raises:
        SourceError: the sidecar is not valid TOML of the expected shape.
    """
    if source.aliases is None:
        return entries, []
    import tomllib

    shown = str(source.aliases)
    from kb.files import MAX_CONFIG_BYTES, read_regular

    try:
        data = tomllib.loads(read_regular(source.aliases, MAX_CONFIG_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(shown, None, f"cannot read aliases: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(shown, None, f"not valid TOML: {exc}") from None
    except RecursionError:
        raise SourceError(shown, None, "not valid TOML: nested too deeply") from None
    table = data.get("aliases", {})
    if not isinstance(table, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in table.values()
    ):
        raise SourceError(shown, None, "[aliases] must map section ids to lists of strings")
    keys = {e.id.split("/", 1)[1] for e in entries}
    warnings = [
        f"{shown}: no entry {key!r} in {source.name}; alias ignored"
        for key in table
        if key not in keys
    ]
    updated = [
        e.model_copy(update={"aliases": list(table[e.id.split("/", 1)[1]])})
        if e.id.split("/", 1)[1] in table
        else e
        for e in entries
    ]
    return updated, warnings
