"""Print the pip requirement lines of environment.yml, one per line (stdlib only: runs before any install)."""

from __future__ import annotations

import sys
from pathlib import Path


def pip_lines(text: str) -> list[str]:
    """Return the requirement strings listed under the ``- pip:`` key of a conda environment file."""
    lines, inside, indent = [], False, 0
    for raw in text.splitlines():
        stripped = raw.split("#", 1)[0].rstrip()
        if not stripped.strip():
            continue
        if stripped.strip() == "- pip:":
            inside, indent = True, len(stripped) - len(stripped.lstrip())
            continue
        if inside:
            this_indent = len(stripped) - len(stripped.lstrip())
            if this_indent <= indent:
                inside = False
                continue
            lines.append(stripped.strip().removeprefix("- ").strip())
    return lines


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "environment.yml")
    print("\n".join(pip_lines(path.read_text())))
