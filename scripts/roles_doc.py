"""Render the role → permission table of accounts/roles.py as Markdown (docs/roles.md).

Run `python scripts/roles_doc.py > docs/roles.md`; tests/test_docs.py fails when they differ.
"""

from __future__ import annotations

import os
import sys


def render() -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    import django

    django.setup()
    from django.utils import translation

    from fangkong.accounts.roles import PERMISSION_LABELS, ROLE_PERMISSIONS, Role

    lines = [
        "# Roles and permissions",
        "",
        "Generated from `src/fangkong/accounts/roles.py` by `scripts/roles_doc.py`; do not edit.",
        "A role is held on a region code and applies to that region's whole subtree",
        "(see `core.scoping.restrict`). ✓ = granted.",
        "",
    ]
    roles = list(Role)
    # Plain header: Chinese label and the code value of each role.
    with translation.override("zh-hans"):
        header = "| permission | " + " | ".join(f"{r.label}<br>`{r.value}`" for r in roles) + " |"
        lines.append(header)
        lines.append("|---" * (len(roles) + 1) + "|")
        for perm, label in PERMISSION_LABELS.items():
            cells = ["✓" if perm in ROLE_PERMISSIONS[r] else "" for r in roles]
            lines.append(f"| {label}<br>`{perm}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    sys.stdout.write(render())
