"""Translation catalogues: complete Simplified Chinese, generated Traditional, fresh .mo."""

from __future__ import annotations

import gettext
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from messages import (  # noqa: E402
    GENERATED_LOCALE,
    PACKAGE_DIR,
    SOURCE_LOCALE,
    apps_with_catalogues,
    parse_po,
    to_traditional,
)

APPS = apps_with_catalogues()


def _po(app: str, locale: str) -> Path:
    return PACKAGE_DIR / app / "locale" / locale / "LC_MESSAGES" / "django.po"


def _live(path: Path):
    return [e for e in parse_po(path.read_text(encoding="utf-8")) if not e.obsolete]


def test_core_has_a_catalogue() -> None:
    assert "core" in APPS


@pytest.mark.parametrize("app", APPS)
def test_simplified_catalogue_is_complete(app: str) -> None:
    entries = _live(_po(app, SOURCE_LOCALE))
    header = [e for e in entries if not e.msgid]
    assert header and "fuzzy" not in header[0].flags, "the header is marked fuzzy"
    assert "charset=UTF-8" in header[0].msgstr[0]
    problems = [
        e.msgid
        for e in entries
        if e.msgid and ("fuzzy" in e.flags or not e.msgstr or not all(e.msgstr.values()))
    ]
    assert problems == [], f"{app}: empty or fuzzy translations: {problems}"


@pytest.mark.parametrize("app", APPS)
def test_traditional_catalogue_is_generated_from_simplified(app: str) -> None:
    source = _po(app, SOURCE_LOCALE)
    target = _po(app, GENERATED_LOCALE)
    assert target.exists(), f"{app}: run `make messages` to generate {GENERATED_LOCALE}"
    simplified = {e.key: e for e in _live(source)}
    traditional = {e.key: e for e in _live(target)}
    assert simplified.keys() == traditional.keys(), f"{app}: msgids differ; run `make messages`"
    for key, entry in traditional.items():
        assert entry.msgid_plural == simplified[key].msgid_plural
        assert sorted(entry.msgstr) == sorted(simplified[key].msgstr)
    assert target.read_text(encoding="utf-8") == to_traditional(
        source.read_text(encoding="utf-8")
    ), f"{app}: {GENERATED_LOCALE} is stale; run `make messages`"


def _catalog(mo: Path) -> dict:
    with mo.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


@pytest.mark.parametrize("locale", [SOURCE_LOCALE, GENERATED_LOCALE])
@pytest.mark.parametrize("app", APPS)
def test_compiled_catalogue_matches_the_po(app: str, locale: str) -> None:
    po = _po(app, locale)
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{app}/{locale}: no .mo; run `make messages`"
    catalog = _catalog(mo)
    expected: dict = {}
    for entry in _live(po):
        if not entry.msgid or "fuzzy" in entry.flags:
            continue
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            expected[msgid] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                expected[(msgid, index)] = text
    compiled = {k: v for k, v in catalog.items() if k != ""}
    assert compiled == expected, f"{app}/{locale}: the .mo is stale; run `make messages`"


def test_parse_po_reads_plurals_contexts_and_continuations() -> None:
    text = (
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n'
        '#: a.py:1\n#, python-format\nmsgid "%(n)d site"\nmsgid_plural "%(n)d sites"\n'
        'msgstr[0] "%(n)d 个场所"\n\n'
        'msgctxt "month"\nmsgid "May"\nmsgstr ""\n"五"\n"月"\n\n'
        '#~ msgid "gone"\n#~ msgstr "已删"\n'
    )
    header, plural, context, gone = parse_po(text)
    assert header.msgid == "" and "zh_Hans" in header.msgstr[0]
    assert plural.msgid_plural == "%(n)d sites" and plural.msgstr == {0: "%(n)d 个场所"}
    assert "python-format" in plural.flags
    assert context.key == ("month", "May") and context.msgstr[0] == "五月"
    assert gone.obsolete


def test_to_traditional_converts_only_translations() -> None:
    text = 'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\nmsgid "后台"\nmsgstr ""\n"后台任务"\n'
    converted = to_traditional(text)
    assert 'msgid "后台"' in converted  # msgids stay as they are
    assert "任務" in converted and "任务" not in converted
    assert "Language: zh_Hant" in converted
