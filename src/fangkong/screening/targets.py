"""The target population of a round (应检尽检): who must be sampled, frozen at the start.

Taken with one INSERT ... SELECT so a 1,000,000-person round is seconds, not minutes.
Who counts: people of the round's zones, not merged away, resident or temporary (常住,
暂住; people away 外出 are sampled where they are). Door-to-door priority: bedridden
first, then elderly people living alone, then anyone 80 or older, then 65 or older, then
the disabled and the pregnant; everyone else after.

The key-group tags are read once, grouped per person, and LEFT JOINed: a correlated
EXISTS per tag kind ran three index probes per person. A round whose target exists
already is left alone (one indexed check first), so the INSERT needs no per-row
duplicate test: a NOT EXISTS on the table being filled made PostgreSQL plan a
nested-loop anti join over it (quadratic: 15 s for 50,000 people), and ON CONFLICT DO
NOTHING doubled the insert's time for a million (8 s against 4 s;
bench/screening_coverage.py).
A tag counts on the day the round starts (since/until around that day).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.utils.translation import gettext_lazy as _

from fangkong.core.importing.bulk import db_date
from fangkong.screening.models import Round, RoundTarget, RoundZone

# priority: lower is visited first by door-to-door teams (敲门行动).
PRIORITY_BEDRIDDEN = 0
PRIORITY_ELDERLY_ALONE = 10
PRIORITY_80_PLUS = 20
PRIORITY_65_PLUS = 30
PRIORITY_DISABLED_OR_PREGNANT = 40
PRIORITY_DEFAULT = 1000

PRIORITY_LABELS = {
    PRIORITY_BEDRIDDEN: _("Bedridden"),
    PRIORITY_ELDERLY_ALONE: _("Elderly, living alone"),
    PRIORITY_80_PLUS: _("80 or older"),
    PRIORITY_65_PLUS: _("65 or older"),
    PRIORITY_DISABLED_OR_PREGNANT: _("Disabled or pregnant"),
}

# Key-group codes (people.KeyGroup.code) that raise a person's door-to-door priority.
TAG_PRIORITIES = {
    "bedridden": PRIORITY_BEDRIDDEN,
    "elderly_alone": PRIORITY_ELDERLY_ALONE,
    "disabled": PRIORITY_DISABLED_OR_PREGNANT,
    "pregnant": PRIORITY_DISABLED_OR_PREGNANT,
}

TARGET_STATUSES = ("resident", "temporary")


def priority_label(priority: int) -> str:
    label = PRIORITY_LABELS.get(priority)
    return str(label) if label is not None else ""


def _zone_condition(zones: list[RoundZone], params: list[Any]) -> str:
    parts = []
    for zone in zones:
        parts.append("(p.region_code >= %s AND p.region_code < %s)")
        params.extend([zone.region_code, zone.upper_code])
    return "(" + " OR ".join(parts) + ")" if parts else "(1 = 0)"


def _years_before(day: dt.date, years: int) -> dt.date:
    """The date ``years`` before ``day`` (29 Feb falls back to 28 Feb)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return dt.date(day.year - years, 2, 28)


def _tag_priorities(on: dt.date, params: list[Any]) -> str:
    """One row per tagged person: the best (lowest) priority their current tags give."""
    cases = " ".join(f"WHEN %s THEN {value}" for value in TAG_PRIORITIES.values())
    params.extend(TAG_PRIORITIES)
    marks = ", ".join(["%s"] * len(TAG_PRIORITIES))
    params.extend(TAG_PRIORITIES)
    day = db_date(on)
    params.extend([day, day])
    return f"""
        SELECT t.person_id AS person_id, MIN(CASE g.code {cases} END) AS best
        FROM people_persontag t JOIN people_keygroup g ON g.id = t.group_id
        WHERE g.code IN ({marks}) AND g.active
          AND (t.since IS NULL OR t.since <= %s) AND (t.until IS NULL OR t.until >= %s)
        GROUP BY t.person_id"""  # noqa: S608 (constants and placeholders only)


ANALYZE_ABOVE = 10_000


def take_target_population(round_: Round, on: dt.date) -> int:
    """Insert the round's RoundTarget rows; returns how many. Call inside the action's
    transaction, once (a second call adds nobody: the rows already exist)."""
    if RoundTarget.objects.filter(round=round_).exists():
        return 0
    zones = list(RoundZone.objects.filter(round=round_))
    table = RoundTarget._meta.db_table
    tag_params: list[Any] = []
    tags_sql = _tag_priorities(on, tag_params)
    priority = f"""
        CASE
          WHEN tp.best = {PRIORITY_BEDRIDDEN} THEN {PRIORITY_BEDRIDDEN}
          WHEN tp.best = {PRIORITY_ELDERLY_ALONE} THEN {PRIORITY_ELDERLY_ALONE}
          WHEN p.birth_date IS NOT NULL AND p.birth_date <= %s THEN {PRIORITY_80_PLUS}
          WHEN p.birth_date IS NOT NULL AND p.birth_date <= %s THEN {PRIORITY_65_PLUS}
          WHEN tp.best = {PRIORITY_DISABLED_OR_PREGNANT} THEN {PRIORITY_DISABLED_OR_PREGNANT}
          ELSE {PRIORITY_DEFAULT}
        END"""
    priority_params = [db_date(_years_before(on, 80)), db_date(_years_before(on, 65))]
    where_params: list[Any] = []
    zone_sql = _zone_condition(zones, where_params)
    sql = f"""
        INSERT INTO {table} (round_id, person_id, region_code, priority, first_sampled_at)
        SELECT %s, p.id, p.region_code, {priority}, NULL
        FROM people_person p LEFT JOIN ({tags_sql}) tp ON tp.person_id = p.id
        WHERE {zone_sql}
          AND p.merged_into_id IS NULL
          AND p.residence_status IN (%s, %s)

    """  # noqa: S608 (table names, constants and placeholders only)
    all_params = [
        round_.pk,
        *priority_params,
        *tag_params,
        *where_params,
        *TARGET_STATUSES,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        added = cursor.rowcount
        if connection.vendor == "postgresql" and added > ANALYZE_ABOVE:
            # The scan's one statement probes this table; until autovacuum analyzes it,
            # stale statistics after a million-row start cost every scan (bench: PostgreSQL
            # CPU per scan 2.2 ms instead of under 1 ms in the first minutes of a round).
            cursor.execute(f"ANALYZE {table}")
        return added
