"""Writing audit entries and access-log entries (DESIGN rule 3).

Actions call ``record`` inside their transaction, so the entry exists exactly when the
change does. Views call ``log_access`` for every reveal and export.

Every write of the system writes an audit entry, so the entry's INSERT is prepared once
per process (no ORM query compilation, no save() machinery: AuditEntry has no signals);
``record_fast`` also skips the model instance, for hot paths such as stock postings;
``entry_row`` gives the same row's values for a hot path that runs the INSERT itself
(on the DB-API cursor, or inside a statement of its own).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from django.db import connection, models
from django.utils import timezone

from fangkong.core import context_vars
from fangkong.core.models import AccessLogEntry, AuditEntry


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk if not isinstance(value.pk, uuid.UUID) else str(value.pk)
    if isinstance(value, (list, tuple, set)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


_SECRET_FIELDS = frozenset({"password", "secret_hash"})


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The audited values of a record: concrete fields (FKs as their id), JSON-safe.

    Left out: secrets, and what the model lists in ``UNAUDITED_FIELDS`` (bookkeeping of
    the system's own, such as a person's import fingerprint, which is nobody's change).
    """
    names = list(fields) if fields is not None else None
    skipped = _SECRET_FIELDS | getattr(type(instance), "UNAUDITED_FIELDS", frozenset())
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if names is not None and field.name not in names:
            continue
        if field.name in skipped:
            continue
        data[field.name] = _json_value(getattr(instance, field.attname))
    return data


def changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return before != after


def build_entry(
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    region_code: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """An unsaved audit entry (``record`` saves one; ``record_many`` inserts many at once)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id if object_id is not None else str(obj.pk)
        if region_code is None:
            scope_field = getattr(obj, "SCOPE_FIELD", "region_code")
            region_code = getattr(obj, scope_field, "") or ""
    actor_user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry(
        actor=actor_user,
        actor_name=(getattr(actor_user, "username", "") if actor_user else "system"),
        action=action,
        object_type=object_type or "",
        object_id=object_id or "",
        object_repr=(str(obj) if obj is not None else "")[:200],
        region_code=region_code or "",
        before=_json_value(before) if before is not None else None,
        after=_json_value(after) if after is not None else None,
        request_id=context_vars.request_id.get(),
        source=context_vars.source.get(),
    )


def record(
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    region_code: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry. ``action`` is "<app>.<verb>" such as "geo.create_site"."""
    entry = build_entry(
        actor,
        action,
        obj,
        object_type=object_type,
        object_id=object_id,
        region_code=region_code,
        before=before,
        after=after,
    )
    entry.created_at = timezone.now()
    entry.pk = _insert(
        entry.created_at,
        entry.actor_id,
        entry.actor_name,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.object_repr,
        entry.region_code,
        entry.before,
        entry.after,
        entry.request_id,
        entry.source,
    )
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def record_fast(
    actor: Any,
    action: str,
    *,
    object_type: str,
    object_id: str,
    object_repr: str,
    region_code: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> int:
    """``record`` for hot paths: the same row from plain values, no model instance.

    Returns the entry's id.
    """
    return _insert(
        *_row(
            actor,
            action,
            (object_type, object_id, object_repr, region_code),
            timezone.now(),
            (before, after),
            _json_value,
        )
    )


def entry_row(
    actor: Any,
    action: str,
    *,
    object_type: str,
    object_id: str,
    object_repr: str,
    region_code: str,
    created_at: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> list[Any]:
    """``record_fast``'s row as values in ``entry_columns()`` order, for a caller's INSERT.

    ``created_at`` is passed as the caller's driver takes it; ``before`` and ``after``
    come back as JSON text (NULL for None, as the JSONField stores it), the same JSON
    the field writes (PostgreSQL: cast the parameter to jsonb).
    """
    return _row(
        actor,
        action,
        (object_type, object_id, object_repr, region_code),
        created_at,
        (before, after),
        _dumps,
    )


def _row(
    actor: Any,
    action: str,
    target: tuple[str, str, str, str],
    created_at: Any,
    changes: tuple[dict[str, Any] | None, dict[str, Any] | None],
    encode: Callable[[Any], Any],
) -> list[Any]:
    """An entry's values in ``entry_columns()`` order; ``target`` is (object type, id,
    repr, region code), ``encode`` turns before/after into what the driver takes."""
    object_type, object_id, object_repr, region_code = target
    before, after = changes
    actor_user = actor if getattr(actor, "is_authenticated", False) else None
    return [
        created_at,
        actor_user.pk if actor_user is not None else None,
        actor_user.username if actor_user is not None else "system",
        action,
        object_type,
        object_id,
        object_repr[:200],
        region_code,
        encode(before) if before is not None else None,
        encode(after) if after is not None else None,
        context_vars.request_id.get(),
        context_vars.source.get(),
    ]


def _dumps(value: Any) -> str:
    """``json.dumps(_json_value(value))``, letting the C encoder walk the plain parts
    (keys that are not text are written as json writes them: 1 as "1", True as "true")."""
    try:
        return _encode(value)
    except TypeError:
        # A key json cannot take (a model, a date): _json_value makes it text.
        return json.dumps(_json_value(value))


def _json_default(value: Any) -> Any:
    # Only called for what json cannot encode itself: datetimes, models, sets...
    return _json_value(value)


# json.dumps(value, default=...) builds an encoder per call; this one is reused.
_encode = json.JSONEncoder(default=_json_default).encode


@cache
def entry_columns() -> tuple[str, tuple[str, ...]]:
    """AuditEntry's table and the columns of ``entry_row`` (quoting is the caller's)."""
    meta = AuditEntry._meta
    return meta.db_table, tuple(str(meta.get_field(name).column) for name in _COLUMNS)  # type: ignore[union-attr]


_COLUMNS = (
    "created_at",
    "actor",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "region_code",
    "before",
    "after",
    "request_id",
    "source",
)


@cache
def _insert_sql(vendor: str) -> tuple[str, bool]:
    """AuditEntry's INSERT (columns in ``_COLUMNS`` order), built once per process."""
    meta = AuditEntry._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(meta.get_field(name).column)) for name in _COLUMNS)  # type: ignore[union-attr]
    marks = ", ".join(["%s"] * len(_COLUMNS))
    # Names from model meta, never from input.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {quote(str(meta.pk.column))}"  # type: ignore[union-attr]
    return sql, returning


def _insert(
    created_at: dt.datetime,
    actor_id: int | None,
    actor_name: str,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str,
    region_code: str,
    before: Any,
    after: Any,
    request_id: str,
    source: str,
) -> int:
    """One AuditEntry row; values already JSON-safe (``_json_value``). Its id."""
    sql, returning = _insert_sql(connection.vendor)
    ops = connection.ops
    params = [
        ops.adapt_datetimefield_value(created_at),
        actor_id,
        actor_name,
        action,
        object_type,
        object_id,
        object_repr,
        region_code,
        # None is SQL NULL, as the JSONField saves it (not a JSON null).
        ops.adapt_json_value(before, None) if before is not None else None,
        ops.adapt_json_value(after, None) if after is not None else None,
        request_id,
        source,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            return int(cursor.fetchone()[0])
        return int(cursor.lastrowid)  # pragma: no cover - every supported database returns ids


def record_many(
    actor: Any, action: str, objs: Iterable[models.Model], *, with_after: bool = True
) -> list[AuditEntry]:
    """One entry per object (its snapshot as "after"), inserted in bulk: a bulk action
    over thousands of records costs a few queries, not one per record."""
    entries = [
        build_entry(actor, action, obj, after=snapshot(obj) if with_after else None) for obj in objs
    ]
    return AuditEntry.objects.bulk_create(entries, batch_size=1000)


def log_access(
    user: Any,
    kind: str,
    *,
    object_type: str,
    object_id: str = "",
    region_code: str = "",
    fields: list[str] | None = None,
    row_count: int = 0,
    unmasked: bool = False,
    detail: str = "",
) -> AccessLogEntry:
    """Log a reveal (kind="reveal") or an export (kind="export")."""
    return AccessLogEntry.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        user_name=getattr(user, "username", "") or "",
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        region_code=region_code,
        fields=fields or [],
        row_count=row_count,
        unmasked=unmasked,
        detail=detail[:300],
        request_id=context_vars.request_id.get(),
    )
