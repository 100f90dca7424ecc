"""The scan's PostgreSQL statement (see screening.actions.scan): the checks and writes in one SQL
statement, with an advisory lock on the person taken first in the same round trip.

``run`` returns one row of facts (before the write) and the write's result; screening.scan
turns it into the outcome with the same ``decide`` the plain implementation uses.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection

from fangkong.accounts.roles import Perm, roles_with
from fangkong.core.regioncodes import upper_bound
from fangkong.people.identity import IdType
from fangkong.screening import codes

# Advisory-lock class of "a scan of this person" (pg_advisory_xact_lock(class, hash)).
LOCK_CLASS = 0x5CA7


@cache
def sample_roles() -> list[str]:
    return [str(role) for role in roles_with(Perm.SAMPLE)]


_PG_LOOKUPS = {
    codes.DOCUMENT: """
        SELECT p.id, p.name, p.id_number, p.region_code, p.household_id FROM people_person p
        WHERE p.id_type IN ({id_types}) AND p.id_number = %(number)s
          AND p.id_number <> '' AND p.merged_into_id IS NULL
        ORDER BY p.id LIMIT 2""",
    codes.QR: """
        SELECT p.id, p.name, p.id_number, p.region_code, p.household_id FROM people_person p
        WHERE p.id = (SELECT COALESCE(q.merged_into_id, q.id) FROM people_person q
                      WHERE q.id = %(person_id)s)
          AND p.merged_into_id IS NULL""",
    codes.TAIL: """
        SELECT p.id, p.name, p.id_number, p.region_code, p.household_id FROM people_person p
        WHERE p.id_reversed >= %(low)s AND p.id_reversed < %(high)s
          AND p.name_key = %(name_key)s AND p.merged_into_id IS NULL
        ORDER BY p.id LIMIT 2""",
}

# Every condition of decide() is in "go"; the guard repeats the tube's own conditions so
# PostgreSQL re-checks them on the newest row version when another scan updated the tube
# first (READ COMMITTED re-evaluates an UPDATE's WHERE after waiting for the row lock).
_PG_SCAN = """
WITH
actor AS ({actor}),
perm AS (
  SELECT EXISTS (SELECT 1 FROM actor) AS known,
    EXISTS (SELECT 1 FROM actor a0 WHERE a0.unrestricted OR EXISTS (
      SELECT 1 FROM accounts_roleassignment a
      WHERE a.user_id = a0.id AND a.role IN ({roles}))) AS may_sample
),
tube AS (
  SELECT t.id, t.round_id, t.site_id, t.capacity, t.member_count, t.status,
         t.household_mode, t.household_id, r.status AS round_status
  FROM screening_tube t JOIN screening_round r ON r.id = t.round_id
  WHERE t.barcode = %(barcode)s
    AND EXISTS (SELECT 1 FROM actor a0 WHERE a0.unrestricted OR EXISTS (
      SELECT 1 FROM accounts_roleassignment a
      WHERE a.user_id = a0.id AND a.role IN ({roles})
        AND substr(t.region_code, 1, length(a.region_code)) = a.region_code))
),
cand AS ({lookup}),
person AS (SELECT c.* FROM cand c WHERE (SELECT count(*) FROM cand) = 1),
prior AS (
  SELECT s.tube_id, pt.status
  FROM tube t0
  JOIN person p0 ON true
  CROSS JOIN LATERAL (
    SELECT s.tube_id FROM screening_sample s
    WHERE s.round_id = t0.round_id AND s.person_id = p0.id AND s.removed_at IS NULL
    OFFSET 0
  ) s
  JOIN screening_tube pt ON pt.id = s.tube_id
),
facts AS (
  SELECT t.id AS tube_id, t.round_id, t.site_id, p.id AS person_id, p.region_code,
         p.household_id,
         EXISTS (SELECT 1 FROM prior WHERE prior.tube_id = t.id) AS dup,
         EXISTS (SELECT 1 FROM prior WHERE prior.tube_id <> t.id
                 AND prior.status = 'open') AS in_open,
         EXISTS (SELECT 1 FROM prior WHERE prior.tube_id <> t.id
                 AND prior.status <> 'open') AS sampled,
         EXISTS (SELECT 1 FROM screening_roundzone z WHERE z.round_id = t.round_id
                 AND p.region_code >= z.region_code AND p.region_code < z.upper_code) AS in_area,
         EXISTS (SELECT 1 FROM screening_roundtarget rt WHERE rt.round_id = t.round_id
                 AND rt.person_id = p.id) AS in_target
  FROM tube t, person p
),
go AS (
  SELECT f.* FROM facts f, tube t, perm
  WHERE perm.may_sample AND t.round_status = 'sampling' AND t.status = 'open'
    AND t.member_count < t.capacity
    AND NOT f.dup AND NOT f.in_open AND (NOT f.sampled OR %(reason)s <> '')
    AND (NOT t.household_mode OR t.member_count = 0
         OR (t.household_id IS NOT NULL AND t.household_id = f.household_id))
),
guard AS (
  UPDATE screening_tube t SET
    member_count = t.member_count + 1,
    household_id = CASE WHEN t.household_mode AND t.member_count = 0
                        THEN go.household_id ELSE t.household_id END,
    status = CASE WHEN t.member_count + 1 >= t.capacity THEN 'closed' ELSE t.status END,
    closed_at = CASE WHEN t.member_count + 1 >= t.capacity
                     THEN statement_timestamp() ELSE t.closed_at END,
    updated_at = statement_timestamp()
  FROM go
  WHERE t.id = go.tube_id AND t.status = 'open' AND t.member_count < t.capacity
    AND (NOT t.household_mode OR t.member_count = 0
         OR (t.household_id IS NOT NULL AND t.household_id = go.household_id))
  RETURNING t.id, t.member_count, t.status
),
ins AS (
  INSERT INTO screening_sample (round_id, tube_id, person_id, site_id, region_code,
    scanned_at, scanned_by_id, in_target, out_of_area, repeat_reason, removed_at)
  SELECT go.round_id, guard.id, go.person_id, go.site_id, go.region_code, statement_timestamp(),
    (SELECT id FROM actor), go.in_target, NOT go.in_area,
    CASE WHEN go.sampled THEN %(reason)s ELSE '' END, NULL
  FROM go JOIN guard ON guard.id = go.tube_id
  RETURNING id
),
target AS (
  UPDATE screening_roundtarget rt SET first_sampled_at = statement_timestamp()
  FROM go
  WHERE rt.round_id = go.round_id AND rt.person_id = go.person_id
    AND rt.first_sampled_at IS NULL AND EXISTS (SELECT 1 FROM ins)
  RETURNING 1
)
SELECT perm.may_sample, t.id, t.round_id, t.site_id, t.round_status, t.status,
  t.member_count, t.capacity, t.household_mode, t.household_id,
  (SELECT count(*) FROM cand), p.id, p.name, p.id_number, p.region_code, g.short_name,
  p.household_id, f.dup, f.in_open, f.sampled, f.in_area, f.in_target,
  (SELECT id FROM ins), gd.member_count, gd.status,
  perm.known, (SELECT token_id FROM actor), (SELECT token_used_at FROM actor)
FROM perm
LEFT JOIN tube t ON true
LEFT JOIN person p ON true
LEFT JOIN facts f ON true
LEFT JOIN guard gd ON true
LEFT JOIN geo_region g ON g.code = p.region_code
"""

# Taken first in the same transaction (and the same round trip): a second scan of the
# same person waits here, then its statement sees the first one's sample.
_PG_LOCK = "SELECT pg_advisory_xact_lock({lock_class}, hashint8(c.id)) FROM ({lookup}) c"

FACT_COLUMNS = (
    "may_sample",
    "tube_id",
    "round_id",
    "site_id",
    "round_status",
    "tube_status",
    "member_count",
    "capacity",
    "household_mode",
    "tube_household_id",
    "candidates",
    "person_id",
    "person_name",
    "id_number",
    "person_region",
    "person_region_name",
    "person_household_id",
    "dup",
    "in_open",
    "sampled",
    "in_area",
    "in_target",
    "sample_id",
    "new_member_count",
    "new_tube_status",
)
# After FACT_COLUMNS: whether the actor is known (a token that authenticates), and the
# token's id and last use (for the token variant).
CALLER_COLUMNS = ("actor_known", "token_id", "token_used_at")

# Who scans: an actor the caller already knows (page, CLI, the token handler's user)...
_ACTOR_GIVEN = (
    "SELECT %(actor)s::bigint AS id, %(unrestricted)s::boolean AS unrestricted, "
    "NULL::bigint AS token_id, NULL::timestamptz AS token_used_at"
)
# ...or the owner of an API token, checked here as core.api.user_for_token checks it (an
# unrevoked token with this prefix and secret hash, of an active user), so that the lean
# scan route (screening.api.scan_route) needs no round trip of its own for the token. No
# row: the token does not authenticate, and nothing is written.
_ACTOR_OF_API_CALL = (
    "SELECT u.id, u.is_superuser AS unrestricted, t.id AS token_id, "
    "t.last_used_at AS token_used_at "
    "FROM {tokens} t JOIN {users} u ON u.id = t.user_id "
    "WHERE t.prefix = %(token_prefix)s AND t.revoked_at IS NULL "
    "AND t.secret_hash = %(token_hash)s AND u.is_active"
)
GIVEN, BY_TOKEN = "given", "token"


@dataclass(frozen=True)
class _Statements:
    """One lookup kind's lock and scan statements, named for PREPARE."""

    name: str
    scan: str  # with %(name)s placeholders
    lock: str
    scan_params: tuple[str, ...]  # in $n order
    lock_params: tuple[str, ...]

    def prepare_sql(self) -> tuple[str, str]:
        return (
            f"PREPARE {self.name} AS {_positional(self.scan)}",
            f"PREPARE {self.name}_lock AS {_positional(self.lock)}",
        )

    def execute_sql(self) -> tuple[str, str]:
        def call(name: str, params: tuple[str, ...]) -> str:
            return f"EXECUTE {name}({', '.join(f'%({p})s' for p in params)})"

        return call(f"{self.name}_lock", self.lock_params), call(self.name, self.scan_params)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _names(sql: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_PLACEHOLDER.findall(sql)))


def _positional(sql: str) -> str:
    """%(name)s placeholders as $1, $2 ... in order of first use (as ``_names``)."""
    order = _names(sql)
    return _PLACEHOLDER.sub(lambda m: f"${order.index(m.group(1)) + 1}", sql)


def _literals(values: Any) -> str:
    """Constants from the code (role names, document types) as SQL literals."""
    words = [str(value) for value in values]
    if not all(re.fullmatch(r"[a-z0-9_]+", word) for word in words):
        raise ValueError(f"not a plain constant: {words}")
    return ", ".join(f"'{word}'" for word in words)


def statement_key(person: codes.PersonCode) -> tuple[str, tuple[str, ...]]:
    """Which prepared statement serves this person code: its lookup, and for documents
    the document types (inlined, so the statement binds no array)."""
    if person.kind in (codes.QR, codes.TAIL):
        return person.kind, ()
    return codes.DOCUMENT, person.id_types or (IdType.MAINLAND,)


def _actor_sql(caller: str) -> str:
    if caller == GIVEN:
        return _ACTOR_GIVEN
    from fangkong.accounts.models import ApiToken, User

    return _ACTOR_OF_API_CALL.format(tokens=ApiToken._meta.db_table, users=User._meta.db_table)


@cache
def _pg_statements(key: tuple[str, tuple[str, ...]], caller: str = GIVEN) -> _Statements:
    kind, id_types = key
    lookup = _PG_LOOKUPS[kind].format(id_types=_literals(id_types))
    # Roles are code constants (accounts.roles); the statement binds no array for them.
    scan_sql = _PG_SCAN.format(
        lookup=lookup, roles=_literals(sample_roles()), actor=_actor_sql(caller)
    )
    lock_sql = _PG_LOCK.format(lookup=lookup, lock_class=LOCK_CLASS)
    parts = [kind, *id_types] if caller == GIVEN else [caller, kind, *id_types]
    name = "fangkong_scan_" + "_".join(parts)
    return _Statements(name, scan_sql, lock_sql, _names(scan_sql), _names(lock_sql))


def _pg_params(
    caller: dict[str, Any], barcode: str, person: codes.PersonCode, reason: str
) -> dict[str, Any]:
    params: dict[str, Any] = {**caller, "barcode": barcode, "reason": reason}
    if person.kind == codes.QR:
        params["person_id"] = person.person_id
    elif person.kind == codes.TAIL:
        params.update(
            low=person.tail_reversed,
            high=upper_bound(person.tail_reversed),
            name_key=person.name_key,
        )
    else:  # a document, or an invalid code (an empty number matches nobody)
        params["number"] = person.number
    return params


# Names of the statements prepared on each raw connection (psycopg connections take
# attributes; a new connection starts with none).
_PREPARED_ATTR = "_fangkong_scan_prepared"


class _Retry(Exception):
    """The prepared statements were gone (DISCARD ALL); they are prepared again."""


def _statement_texts(raw: Any, statements: _Statements) -> tuple[str, str]:
    """EXECUTE of the prepared statements, PREPAREd once per connection; the plain
    statements when settings.SCREENING_SCAN_PREPARED is False (transaction-mode poolers
    keep no prepared statements)."""
    if not getattr(settings, "SCREENING_SCAN_PREPARED", True):
        return statements.lock, statements.scan
    done: set[str] = getattr(raw, _PREPARED_ATTR, None) or set()
    if statements.name not in done:
        with raw.cursor() as cursor:
            for sql in statements.prepare_sql():
                cursor.execute(sql)
        done.add(statements.name)
        setattr(raw, _PREPARED_ATTR, done)
    return statements.execute_sql()


def _pg_run(statements: _Statements, params: dict[str, Any]) -> tuple[Any, ...]:
    """The person lock and the scan statement in one round trip, one transaction.

    One simple-protocol message "BEGIN; <lock>; <scan>; COMMIT": each statement takes a
    fresh snapshot, so the scan sees whatever a concurrent scan of the same person
    committed before releasing the lock. The statements are prepared (planning the scan
    costs milliseconds, executing it a fraction of one); psycopg quotes the literals
    (client-side binding, as Django's own cursors). Inside an outer transaction (tests,
    a page's atomic block) a savepoint stands in for BEGIN and COMMIT.
    """
    from psycopg import ClientCursor, errors
    from psycopg.pq import TransactionStatus

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    if raw.info.transaction_status == TransactionStatus.IDLE:
        begin, commit, undo = "BEGIN", "COMMIT", "ROLLBACK"
    else:
        begin, commit = "SAVEPOINT fangkong_scan", "RELEASE SAVEPOINT fangkong_scan"
        undo = "ROLLBACK TO SAVEPOINT fangkong_scan"
    started = time.monotonic()
    lock_sql, scan_sql = _statement_texts(raw, statements)
    cursor = ClientCursor(raw)
    try:
        cursor.execute(f"{begin}; {lock_sql}; {scan_sql}; {commit}", params)
        cursor.nextset()  # the lock's rows
        cursor.nextset()  # the scan's one row
        row = cursor.fetchone()
    except errors.InvalidSqlStatementName:
        raw.execute(undo)
        setattr(raw, _PREPARED_ATTR, set())
        raise _Retry from None
    except Exception:
        if raw.info.transaction_status == TransactionStatus.INERROR:
            raw.execute(undo)
        raise
    finally:
        cursor.close()
        if connection.queries_logged:  # so CaptureQueriesContext and DEBUG count it
            connection.queries_log.append(
                {"sql": f"/* scan */ {scan_sql}", "time": f"{time.monotonic() - started:.3f}"}
            )
    if row is None:
        raise AssertionError("the scan statement returned no row")
    return tuple(row)


def run(
    actor: Any, unrestricted: bool, barcode: str, person: codes.PersonCode, reason: str
) -> dict[str, Any]:
    """Run the scan for (actor, tube, person); its facts as a dict of FACT_COLUMNS."""
    caller = {"actor": actor.pk if actor is not None else None, "unrestricted": unrestricted}
    facts, _caller = _run(GIVEN, caller, barcode, person, reason)
    return facts


def run_with_token(
    prefix: str, secret_hash: str, barcode: str, person: codes.PersonCode, reason: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Run the scan as the owner of the token (prefix, hash of its secret): its facts and
    (token_id, token_used_at), or None when the token does not authenticate."""
    caller = {"token_prefix": prefix, "token_hash": secret_hash}
    facts, found = _run(BY_TOKEN, caller, barcode, person, reason)
    if not found["actor_known"]:
        return None
    return facts, found


def _run(
    caller_kind: str,
    caller: dict[str, Any],
    barcode: str,
    person: codes.PersonCode,
    reason: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    import psycopg

    statements = _pg_statements(statement_key(person), caller_kind)
    params = _pg_params(caller, barcode, person, reason)
    try:
        row = _pg_run(statements, params)
    except (_Retry, psycopg.IntegrityError):
        # Prepared statements re-created; or a scan of the same person into the same tube
        # raced past the lock (it cannot with the lock; kept as a net): run again, it now
        # sees the other sample.
        row = _pg_run(statements, params)
    facts = dict(zip(FACT_COLUMNS, row[: len(FACT_COLUMNS)], strict=True))
    found = dict(zip(CALLER_COLUMNS, row[len(FACT_COLUMNS) :], strict=True))
    return facts, found
