"""The kinds of change ``faq-kb diff`` reports, apart from the diff itself: its parser
names them without importing the diff's machinery (pydantic models, difflib, git),
which every ``faq-kb`` command would otherwise pay for (~50 ms of a rebuild)."""

CATEGORIES = (
    "anchor-change",
    "removed",
    "lost-answer",
    "changed-answer",
    "link-change",
    "ambiguous",
    "retitled",
    "added",
)
DEFAULT_FAIL_ON = ("anchor-change", "removed", "lost-answer")
