"""Regenerate the translation catalogues (`make messages`; needs GNU gettext).

For every app under src/fangkong that has a ``locale/`` folder:

1. ``makemessages -l zh_Hans --no-obsolete`` (English msgids, hand-written Simplified
   Chinese in ``locale/zh_Hans/LC_MESSAGES/django.po``);
2. ``locale/zh_Hant/LC_MESSAGES/django.po`` is generated from it: every msgstr (plural
   forms too) goes through OpenCC ``s2t``; msgids, contexts and comments stay as they are;
3. ``compilemessages`` for zh_Hans and zh_Hant (the .mo files are committed).

The package's top-level modules (settings.py's language names, api.py's error messages,
demo.py) have no app of their own: their strings go into core's catalogue. For core,
makemessages runs from src/fangkong with every other app folder ignored and core/locale
as the only locale path, so core's own files and the top-level files land in one file.

Usage: python scripts/messages.py [APP ...]   (default: every app with a locale folder)
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "src" / "fangkong"
SOURCE_LOCALE = "zh_Hans"
GENERATED_LOCALE = "zh_Hant"
GENERATED_NOTE = "# Generated from zh_Hans by scripts/messages.py (OpenCC s2t): do not edit.\n"
TOP_LEVEL_APP = "core"  # the app whose catalogue also holds the package's top-level strings


# A small PO reader (the tests use it too) ------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b"}


def _unquote(text: str) -> str:
    text = text.strip()
    if not (text.startswith('"') and text.endswith('"')):
        raise ValueError(f"not a quoted PO string: {text!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def parse_po(text: str) -> list[Entry]:
    """Entries of a PO file, obsolete ones flagged (the header is the entry with msgid "")."""
    entries: list[Entry] = []
    state: dict = {"entry": Entry(), "started": False, "has_msgstr": False, "target": None}

    def flush() -> None:
        if state["started"]:
            entries.append(state["entry"])
        state.update(entry=Entry(), started=False, has_msgstr=False, target=None)

    for raw in text.splitlines():
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            flush()
            continue
        if line.startswith("#"):
            if state["has_msgstr"]:
                flush()
            if line.startswith("#,"):
                state["entry"].flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            continue
        entry: Entry = state["entry"]
        if line.startswith('"'):
            if state["target"] is None:
                raise ValueError(f"string outside an entry: {raw!r}")
            kind, index = state["target"]
            value = _unquote(line)
            if kind == "msgstr":
                entry.msgstr[index] += value
            else:
                setattr(entry, kind, (getattr(entry, kind) or "") + value)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and state["has_msgstr"]:
            flush()
            entry = state["entry"]
        state["started"] = True
        entry.obsolete = entry.obsolete or obsolete
        match = re.fullmatch(r"msgstr(?:\[(\d+)\])?", keyword)
        if match is not None:
            index = int(match.group(1) or 0)
            entry.msgstr[index] = _unquote(rest)
            state["target"], state["has_msgstr"] = ("msgstr", index), True
        elif keyword in ("msgctxt", "msgid", "msgid_plural"):
            setattr(entry, keyword, _unquote(rest))
            state["target"] = (keyword, 0)
        else:
            raise ValueError(f"unexpected line: {raw!r}")
    flush()
    return entries


# zh_Hans → zh_Hant ------------------------------------------------------------------------


def to_traditional(po_text: str) -> str:
    """The same PO text with every msgstr converted by OpenCC s2t (msgids untouched)."""
    import opencc

    converter = opencc.OpenCC("s2t")
    out: list[str] = []
    in_msgstr = False
    for line in po_text.splitlines(keepends=True):
        stripped = line.lstrip()
        body = stripped[2:].lstrip() if stripped.startswith("#~") else stripped
        if body.startswith("msgstr"):
            in_msgstr = True
        elif body.startswith(("msgid", "msgctxt", "#")) or not body.strip():
            in_msgstr = False
        if in_msgstr:
            line = converter.convert(line)
        out.append(line)
    text = GENERATED_NOTE + "".join(out)
    return text.replace(f"Language: {SOURCE_LOCALE}\\n", f"Language: {GENERATED_LOCALE}\\n")


# Running the Django commands ---------------------------------------------------------------


def apps_with_catalogues() -> list[str]:
    return sorted(p.name for p in PACKAGE_DIR.iterdir() if (p / "locale").is_dir())


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    os.environ.setdefault("FANGKONG_DATA_DIR", tempfile.mkdtemp(prefix="fangkong-messages-"))
    import django

    django.setup()
    from django.core.management.commands import makemessages

    # Modules that use ``_`` for gettext import gettext_lazy as ``_lazy``; xgettext only
    # knows the standard names, so teach it this one.
    if "--keyword=_lazy" not in makemessages.Command.xgettext_options:
        makemessages.Command.xgettext_options = [
            *makemessages.Command.xgettext_options,
            "--keyword=_lazy",
        ]


def make_source_catalogue(app: str) -> Path:
    from django.core.management import call_command
    from django.test.utils import override_settings

    app_dir = PACKAGE_DIR / app
    previous = Path.cwd()
    try:
        if app == TOP_LEVEL_APP:
            os.chdir(PACKAGE_DIR)
            others = [
                p.name
                for p in PACKAGE_DIR.iterdir()
                if p.is_dir() and p.name != app and not p.name.startswith((".", "__"))
            ]
            with override_settings(LOCALE_PATHS=[str(app_dir / "locale")]):
                call_command(
                    "makemessages",
                    locale=[SOURCE_LOCALE],
                    no_obsolete=True,
                    ignore_patterns=others,
                    verbosity=0,
                )
        else:
            os.chdir(app_dir)
            call_command("makemessages", locale=[SOURCE_LOCALE], no_obsolete=True, verbosity=0)
    finally:
        os.chdir(previous)
    return app_dir / "locale" / SOURCE_LOCALE / "LC_MESSAGES" / "django.po"


def generate_traditional(app: str) -> Path:
    source = PACKAGE_DIR / app / "locale" / SOURCE_LOCALE / "LC_MESSAGES" / "django.po"
    target = PACKAGE_DIR / app / "locale" / GENERATED_LOCALE / "LC_MESSAGES" / "django.po"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(to_traditional(source.read_text(encoding="utf-8")), encoding="utf-8")
    return target


def compile_catalogues(app: str) -> None:
    from django.core.management import call_command

    previous = Path.cwd()
    try:
        os.chdir(PACKAGE_DIR / app)
        call_command("compilemessages", locale=[SOURCE_LOCALE, GENERATED_LOCALE], verbosity=0)
    finally:
        os.chdir(previous)


def untranslated(po_path: Path) -> list[str]:
    """msgids with an empty or fuzzy translation (the header excepted)."""
    entries = parse_po(po_path.read_text(encoding="utf-8"))
    return [
        e.msgid
        for e in entries
        if e.msgid and not e.obsolete and ("fuzzy" in e.flags or not all(e.msgstr.values()))
    ]


def main(argv: list[str]) -> int:
    _setup_django()
    apps = argv or apps_with_catalogues()
    for app in apps:
        if not (PACKAGE_DIR / app / "locale").is_dir():
            print(f"{app}: no locale folder; create {app}/locale to give it a catalogue")
            return 2
        source = make_source_catalogue(app)
        generate_traditional(app)
        compile_catalogues(app)
        missing = untranslated(source)
        note = f"{len(missing)} to translate in {source.relative_to(ROOT)}" if missing else "ok"
        print(f"{app}: {note}")
        for msgid in missing[:20]:
            print(f"    {msgid!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
