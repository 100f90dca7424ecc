"""The target population of a round (应检尽检): who must be sampled, frozen at the start.

Taken with one INSERT ... SELECT so a 1,000,000-person round is seconds, not minutes.
Who counts: people of the round's zones, not merged away, resident or temporary (常住,
暂住; people away 外出 are sampled where they are). Door-to-door priority: bedridden
first, then elderly people living alone, then anyone 80 or older, then 65 or older, then
the disabled and the pregnant; everyone else after.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection

from fangkong.core.importing.bulk import db_date
from fangkong.screening.models import Round, RoundTarget, RoundZone

# priority: lower is visited first by door-to-door teams (敲门行动).
PRIORITY_BEDRIDDEN = 0
PRIORITY_ELDERLY_ALONE = 10
PRIORITY_80_PLUS = 20
PRIORITY_65_PLUS = 30
PRIORITY_DISABLED_OR_PREGNANT = 40
PRIORITY_DEFAULT = 1000

TARGET_STATUSES = ("resident", "temporary")


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


def take_target_population(round_: Round, on: dt.date) -> int:
    """Insert the round's RoundTarget rows; returns how many. Call inside the action's
    transaction, once (a second call adds nobody: the rows already exist)."""
    zones = list(RoundZone.objects.filter(round=round_))
    params: list[Any] = []
    cutoff_80 = db_date(_years_before(on, 80))
    cutoff_65 = db_date(_years_before(on, 65))
    table = RoundTarget._meta.db_table
    person = "people_person"
    tag = "people_persontag"
    group = "people_keygroup"
    priority = f"""
        CASE
          WHEN EXISTS (SELECT 1 FROM {tag} t JOIN {group} g ON g.id = t.group_id
                       WHERE t.person_id = p.id AND g.code = 'bedridden')
            THEN {PRIORITY_BEDRIDDEN}
          WHEN EXISTS (SELECT 1 FROM {tag} t JOIN {group} g ON g.id = t.group_id
                       WHERE t.person_id = p.id AND g.code = 'elderly_alone')
            THEN {PRIORITY_ELDERLY_ALONE}
          WHEN p.birth_date IS NOT NULL AND p.birth_date <= %s THEN {PRIORITY_80_PLUS}
          WHEN p.birth_date IS NOT NULL AND p.birth_date <= %s THEN {PRIORITY_65_PLUS}
          WHEN EXISTS (SELECT 1 FROM {tag} t JOIN {group} g ON g.id = t.group_id
                       WHERE t.person_id = p.id AND g.code IN ('disabled', 'pregnant'))
            THEN {PRIORITY_DISABLED_OR_PREGNANT}
          ELSE {PRIORITY_DEFAULT}
        END"""  # noqa: S608 (table names and constants only)
    params.extend([cutoff_80, cutoff_65])
    where_params: list[Any] = []
    zone_sql = _zone_condition(zones, where_params)
    sql = f"""
        INSERT INTO {table} (round_id, person_id, region_code, priority, first_sampled_at)
        SELECT %s, p.id, p.region_code, {priority}, NULL
        FROM {person} p
        WHERE {zone_sql}
          AND p.merged_into_id IS NULL
          AND p.residence_status IN (%s, %s)
          AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.round_id = %s AND x.person_id = p.id)
    """  # noqa: S608
    all_params = [round_.pk, *params, *where_params, *TARGET_STATUSES, round_.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        return cursor.rowcount
