"""``python -m kb QUESTION`` runs ``faq-search``; ``python -m kb build`` etc. run ``faq-kb``."""

import sys

from kb.cli.main import kb_entry, main

if len(sys.argv) > 1 and sys.argv[1] in {
    "build",
    "check",
    "list",
    "show",
    "watch",
    "eval",
    "feedback",
    "init",
    "completion",
    "diff",
}:
    kb_entry()
else:
    main()
