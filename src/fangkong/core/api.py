"""The API's shared parts: token auth, the one error shape, pagination."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, ProgrammingError, connection
from django.http import HttpRequest
from django.utils import timezone
from ninja import Schema
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

TOKEN_PREFIX = "fk_"  # noqa: S105  (a marker, not a secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_for_token(raw: str) -> Any:
    """The active user owning the token, or None. Tokens look like fk_<prefix>_<secret>.

    Every token-authenticated API call runs this, so it is one hand-written SELECT (token
    joined to its user) built once per process, prepared on PostgreSQL: the equivalent
    ORM query cost ~0.6 ms of CPU per call (half of it compiling the query), this ~0.07
    ms. A revoked token or a deactivated user is refused on the next call: nothing is
    cached between calls.
    """
    parts = split_token(raw)
    if parts is None:
        return None
    prefix, secret = parts
    lookup = _token_lookup()
    row = _fetch_token_row(lookup, prefix)
    if row is None:
        return None
    values = lookup.convert(row)
    token_pk, secret_hash, last_used_at = values[:3]
    user = lookup.user_model.from_db(DEFAULT_DB_ALIAS, lookup.user_fields, values[3:])
    if not user.is_active:
        return None
    if not _constant_time_equal(secret_hash, hash_secret(secret)):
        return None
    note_token_use(token_pk, last_used_at)
    return user


def split_token(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) of a token fk_<prefix>_<secret>, or None if it is not one."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    try:
        _, prefix, secret = raw.split("_", 2)
    except ValueError:
        return None
    return prefix, secret


def note_token_use(token_pk: int, last_used_at: Any) -> None:
    """Record the token's use: one write per minute per token at most (the scan path must
    stay cheap)."""
    now = timezone.now()
    if last_used_at is None or (now - last_used_at).total_seconds() > 60:
        from fangkong.accounts.models import ApiToken

        ApiToken.objects.filter(pk=token_pk).update(last_used_at=now)


_PREPARED_NAME = "fangkong_token_lookup"
_PREPARED_ATTR = "_fangkong_token_prepared"  # set on the psycopg connection once prepared


def _fetch_token_row(lookup: _TokenLookup, prefix: str) -> tuple[Any, ...] | None:
    """The lookup's row for the prefix. On PostgreSQL a prepared statement (PREPAREd once
    per connection): planning the join cost the server ~50 µs a call, executing it ~20 µs.
    settings.SCREENING_SCAN_PREPARED = False turns it off, as for the scan's statement
    (a transaction-mode pooler keeps no prepared statements). Inside a transaction the
    plain statement runs: a prepared one found gone (DEALLOCATE ALL) would abort it."""
    prepared = (
        connection.vendor == "postgresql"
        and getattr(settings, "SCREENING_SCAN_PREPARED", True)
        and not connection.in_atomic_block
    )
    with connection.cursor() as cursor:
        if not prepared:
            cursor.execute(lookup.sql, [prefix])
            return cursor.fetchone()
        raw = connection.connection
        if not getattr(raw, _PREPARED_ATTR, False):
            cursor.execute(lookup.prepare_sql)
            setattr(raw, _PREPARED_ATTR, True)
        try:
            cursor.execute(lookup.execute_sql, [prefix])
        except ProgrammingError as exc:
            from psycopg.errors import InvalidSqlStatementName

            # Gone (DISCARD ALL, DEALLOCATE): prepare it again.
            setattr(raw, _PREPARED_ATTR, False)
            if not isinstance(exc.__cause__, InvalidSqlStatementName):
                raise
            cursor.execute(lookup.prepare_sql)
            setattr(raw, _PREPARED_ATTR, True)
            cursor.execute(lookup.execute_sql, [prefix])
        return cursor.fetchone()


@dataclass(frozen=True)
class _TokenLookup:
    sql: str  # the prefix as %s
    prepare_sql: str
    execute_sql: str
    user_model: Any
    user_fields: list[str]
    # (column index, column expression, converters) as the ORM's compiler applies them
    # (on SQLite: aware datetimes, ...; on PostgreSQL usually none).
    converters: list[tuple[int, Any, list[Any]]]

    def convert(self, row: tuple[Any, ...]) -> list[Any]:
        values = list(row)
        for index, expression, functions in self.converters:
            for function in functions:
                values[index] = function(values[index], expression, connection)
        return values


@functools.cache
def _token_lookup() -> _TokenLookup:
    """The token's id, hash and last use plus every concrete column of its user, by prefix
    among the unrevoked tokens: the rows ApiToken.objects.select_related("user")
    .filter(prefix=..., revoked_at__isnull=True) reads, built once per process."""
    from fangkong.accounts.models import ApiToken

    token_meta: Any = ApiToken._meta  # Any: get_field's union type knows no columns
    user_meta: Any = token_meta.get_field("user").related_model._meta
    quote = connection.ops.quote_name
    token_fields = [token_meta.get_field(name) for name in ("id", "secret_hash", "last_used_at")]
    user_fields = list(user_meta.concrete_fields)
    selected = [("t", f) for f in token_fields] + [("u", f) for f in user_fields]
    columns = ", ".join(f"{alias}.{quote(f.column)}" for alias, f in selected)
    tokens, users = quote(token_meta.db_table), quote(user_meta.db_table)
    join = f"u.{quote(user_meta.pk.column)} = t.{quote(token_meta.get_field('user').column)}"
    prefix = quote(token_meta.get_field("prefix").column)
    revoked = quote(token_meta.get_field("revoked_at").column)
    # Names from model meta (quoted); the prefix is a parameter.
    sql = f"SELECT {columns} FROM {tokens} t JOIN {users} u ON {join} WHERE t.{prefix} = %s"  # noqa: S608
    sql += f" AND t.{revoked} IS NULL"
    converters = []
    for index, (alias, field) in enumerate(selected):
        expression = field.get_col(alias)
        functions = connection.ops.get_db_converters(expression) + expression.get_db_converters(
            connection
        )
        if functions:
            converters.append((index, expression, functions))
    return _TokenLookup(
        sql=sql,
        prepare_sql=f"PREPARE {_PREPARED_NAME} AS {sql.replace('%s', '$1')}",
        # The comment names the tables in query logs, where EXECUTE alone says nothing.
        execute_sql=(
            f"/* {token_meta.db_table} JOIN {user_meta.db_table} */ EXECUTE {_PREPARED_NAME}(%s)"
        ),
        user_model=user_meta.model,
        user_fields=[f.attname for f in user_fields],
        converters=converters,
    )


def _constant_time_equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


class BearerTokenAuth(HttpBearer):
    """Authorization: Bearer fk_..."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class HeaderTokenAuth(APIKeyHeader):
    """X-API-Token: fk_... (for clients that cannot set Authorization)."""

    param_name = "X-API-Token"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        user = user_for_token(key)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """The logged-in browser session (CSRF is checked for unsafe methods)."""

    def _get_key(self, request: HttpRequest) -> str | None:
        # Without a session cookie there is no session to authenticate nor to protect from
        # CSRF: answer "no" (401 in the end) instead of running the CSRF check, which would
        # turn a POST with a bad or revoked token into a confusing 403 "CSRF check Failed".
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


API_AUTH = [BearerTokenAuth(), HeaderTokenAuth(), ActiveSessionAuth()]


class ErrorOut(Schema):
    """Every API error has this shape."""

    code: str
    message: str
    fields: dict[str, list[str]] = {}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}
