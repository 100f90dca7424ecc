"""Docs that are generated from code stay equal to it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_roles_doc_matches_the_permission_table() -> None:
    spec = importlib.util.spec_from_file_location("roles_doc", ROOT / "scripts" / "roles_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "roles.md").read_text() == module.render(), (
        "docs/roles.md is stale: run `.venv/bin/python scripts/roles_doc.py > docs/roles.md`"
    )


def test_readme_lists_every_demo_login() -> None:
    from fangkong.demo import LOGINS

    readme = (ROOT / "README.md").read_text()
    for login in LOGINS:
        assert f"`{login.username}`" in readme, login.username
