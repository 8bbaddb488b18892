"""A project's Sphinx inventory (``objects.inv``): real titles and URLs of its other pages.

Read with sphobjinv (the ``inventory`` extra), at build time only, when a source's
manifest entry names one; ``:ref:`` labels and ``:doc:`` names the FAQ itself does not
define are then shown with the title and linked to the page the published docs use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from urllib.parse import urljoin

from kb.spec import is_url

Target = tuple[str, str]  # (title, absolute URL)


@dataclass(frozen=True)
class Inventory:
    """Labels and documents of a Sphinx project, each with its title and URL."""

    labels: dict[str, Target] = field(default_factory=dict)
    docs: dict[str, Target] = field(default_factory=dict)

    def doc_at(self, page_url: str) -> str | None:
        """The document name of a published page, if the inventory has it."""
        page = page_url.split("#")[0]
        return next((name for name, (_, url) in self.docs.items() if url == page), None)


class InventoryError(Exception):
    """The inventory cannot be read (missing, not an objects.inv, sphobjinv missing)."""


def load_inventory(location: str, page_url: str) -> Inventory:
    """The inventory at ``location`` (a path or an http(s) URL), its URLs made absolute.

    A local file's base URL is found from the entry for the FAQ page itself (the ``std:doc``
    whose URI ends ``page_url``); failing that, the page's own folder.

    Raises:
        InventoryError: unreadable, not an inventory, or the extra is not installed.
    """
    return _load(location, page_url.split("#")[0])


@functools.lru_cache(maxsize=16)
def _load(location: str, page: str) -> Inventory:
    try:
        import sphobjinv
    except ImportError:
        raise InventoryError(
            "reading an objects.inv needs sphobjinv: pip install 'faq-kb[inventory]'"
        ) from None
    try:
        if is_url(location):
            from kb.ingest.remote import FetchError, fetch

            try:
                data = fetch(location).body
            except FetchError as exc:
                raise InventoryError(f"{location}: {exc}") from None
            inventory = sphobjinv.Inventory(zlib=data)
        else:
            inventory = sphobjinv.Inventory(fname_zlib=location)
    except InventoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (sphobjinv raises many kinds on a bad file)
        raise InventoryError(f"{location}: not a Sphinx objects.inv ({exc})") from None
    objects = [
        (o.domain, o.role, o.name, o.uri_expanded, o.dispname_expanded) for o in inventory.objects
    ]
    base = _base(location, page, objects)
    out = Inventory()
    for domain, role, name, uri, title in objects:
        if domain != "std" or role not in ("label", "doc"):
            continue
        target = (title if title != name or role == "doc" else _readable(name), urljoin(base, uri))
        (out.labels if role == "label" else out.docs)[name.lower() if role == "label" else name] = (
            target
        )
    return out


def _base(location: str, page: str, objects: list[tuple[str, str, str, str, str]]) -> str:
    if is_url(location):
        return location.rsplit("/", 1)[0] + "/"
    for domain, role, _name, uri, _title in objects:
        if domain == "std" and role == "doc" and uri and page.endswith("/" + uri):
            return page[: -len(uri)]
    return urljoin(page, ".")


def _readable(label: str) -> str:
    return label.replace("_", " ").replace("-", " ")
