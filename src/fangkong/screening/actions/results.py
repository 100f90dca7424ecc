"""Recording lab results (检测结果) and opening positive cases (阳性追踪), set-based.

``apply_results`` takes a batch of result lines (from a file, the API or a test) and, in
one transaction:
- matches each line's tube by its normalized barcode; a tube outside the actor's
  IMPORT_RESULTS regions is treated as unknown (the answer tells nothing about it);
- refuses lines for a tube whose round is closed, and per-person lines (an ID number on
  the line) whose tube does not hold exactly that one person;
- records each new (tube, result, time) as a ResultRecord; a line already recorded, or
  repeated in the batch, is unchanged (re-importing a file changes nothing);
- gives each tube its newest result (at the same time, the graver one) and the status
  "resulted": a tube still open at the site is resulted too, since a positive must never
  wait for a forgotten close;
- opens one PositiveCase per positive tube (混管阳性 or 阳性), once ever, with a
  ResampleTask (单采) for each live member, assigned to the member's village;
- settles the open re-sampling tasks whose re-sample tube got a result.

Every step is one statement over the whole batch, whatever its size: the lines are
loaded into a temporary table (COPY on PostgreSQL), classified with one join into a
second one, and the records, the tube updates and the positive tubes all come from that
one with INSERT ... SELECT and UPDATE ... FROM. Only refused lines and positive tubes come
back to Python. Audit: one entry per round per batch with the counts and the cases
opened, one per case, and a summary per import (``record_import_summary``); never one per
line (550,000 lines would double the work, and each ResultRecord row, which names its
job, is itself the evidence).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.importing import bulk
from fangkong.core.regioncodes import upper_bound
from fangkong.core.scoping import scope_codes
from fangkong.screening.models import (
    PositiveCase,
    ResampleTask,
    ResultRecord,
    Round,
    RoundStatus,
    Sample,
    TestResult,
    Tube,
    TubeStatus,
)

# At the same report time the graver result wins.
GRAVITY = {
    TestResult.NEGATIVE: 0,
    TestResult.INVALID: 1,
    TestResult.RETEST: 2,
    TestResult.POOL_POSITIVE: 3,
    TestResult.POSITIVE: 4,
}
# Result imports run one at a time (PostgreSQL advisory lock; SQLite has one writer).
_LOCK_KEY = 0x5343524E
_STAGE = "fk_result_stage"
_CLASSIFIED = "fk_result_classified"
OK, UNCHANGED, UNKNOWN, CLOSED, POOLED, MISMATCH = (
    "ok",
    "unchanged",
    "unknown",
    "closed",
    "pooled",
    "mismatch",
)


@dataclass(slots=True)
class ResultLine:
    """One result line; ``ref`` is the caller's (the file row) and comes back with a refusal."""

    ref: Any
    barcode: str
    result: str
    reported_at: dt.datetime  # aware
    id_number: str = ""
    lab: str = ""


@dataclass
class BatchOutcome:
    recorded: int = 0
    unchanged: int = 0
    tubes_updated: int = 0
    rejected: list[tuple[ResultLine, str]] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    cases: list[int] = field(default_factory=list)
    positive_tubes: list[str] = field(default_factory=list)
    tasks_settled: int = 0

    def merge(self, other: BatchOutcome) -> None:
        self.recorded += other.recorded
        self.unchanged += other.unchanged
        self.tubes_updated += other.tubes_updated
        self.cases += other.cases
        self.positive_tubes += other.positive_tubes
        self.tasks_settled += other.tasks_settled


def _as_datetime(value: Any) -> dt.datetime:
    """A timestamp as read by a cursor (SQLite gives naive UTC, or UTC text)."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _gravity_sql(column: str) -> str:
    whens = " ".join(f"WHEN '{value}' THEN {rank}" for value, rank in GRAVITY.items())
    return f"(CASE {column} {whens} ELSE 0 END)"


def _prepare(cursor: Any) -> None:
    postgres = bulk.is_postgres()
    stamp = "timestamptz" if postgres else "text"
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (n integer, barcode varchar(40), "
        f"result varchar(16), reported_at {stamp}, id_number varchar(32), lab varchar(100))"
    )
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_CLASSIFIED} (n integer, tube_id bigint, "
        f"round_id bigint, result varchar(16), reported_at {stamp}, lab varchar(100), "
        "verdict varchar(10))"
    )
    # Inside a test's (or a caller's) transaction ON COMMIT would never clear them.
    for table in (_STAGE, _CLASSIFIED):
        cursor.execute(f"TRUNCATE {table}" if postgres else f"DELETE FROM {table}")  # noqa: S608
    if postgres:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        # The planner's cost guesses for these joins pass jit_above_cost: compiling them
        # took ~0.3 s a statement, ten times their run time.
        cursor.execute("SET LOCAL jit = off")
    # A batch is idempotent (importing the file again changes nothing), so a crash losing
    # the last commits costs a re-run, not data: no WAL flush wait per batch (PostgreSQL).
    bulk.commit_without_flush_wait()


def _probe_by_index(cursor: Any, on: bool) -> None:
    """Join the staged lines to tubes by index probes (PostgreSQL).

    Left to itself the planner merge-joins the sorted batch with the tube index read from
    its start: every batch re-reads all tubes below its highest barcode, so an import grew
    quadratically (the 28th batch of 550,000 lines read 560,000 tubes to update 20,000).
    """
    if bulk.is_postgres():
        value = "off" if on else "on"
        cursor.execute(f"SET LOCAL enable_mergejoin = {value}")
        cursor.execute(f"SET LOCAL enable_hashjoin = {value}")


def _load(lines: list[ResultLine]) -> None:
    stamp = (lambda value: value) if bulk.is_postgres() else bulk.db_datetime
    bulk.insert_rows(
        _STAGE,
        ("n", "barcode", "result", "reported_at", "id_number", "lab"),
        [
            (i, line.barcode, line.result, stamp(line.reported_at), line.id_number, line.lab)
            for i, line in enumerate(lines)
        ],
    )


def _scope_sql(codes: tuple[str, ...] | None) -> tuple[str, list[str]]:
    if codes is None:
        return "1 = 1", []
    parts, params = [], []
    for code in codes:
        parts.append("(t.region_code >= %s AND t.region_code < %s)")
        params += [code, upper_bound(code)]
    return "(" + " OR ".join(parts) + ")", params


def _classify(cursor: Any, codes: tuple[str, ...] | None) -> None:
    """Each staged line with its tube and verdict (ok, unchanged, or why it is refused)."""
    tube, round_ = _q(Tube._meta.db_table), _q(Round._meta.db_table)
    record, sample = _q(ResultRecord._meta.db_table), _q(Sample._meta.db_table)
    person = _q(Sample._meta.get_field("person").related_model._meta.db_table)  # type: ignore[union-attr]
    scope, params = _scope_sql(codes)
    live = f"{sample} sm WHERE sm.tube_id = t.id AND sm.removed_at IS NULL"
    # A line repeated in the batch is recorded once: the first "ok" one of its key.
    # OFFSET 0 keeps the inner query from being inlined, which would evaluate its verdict
    # (and its subqueries) once for each of the three places the outer query reads it.
    sql = f"""
        INSERT INTO {_CLASSIFIED} (n, tube_id, round_id, result, reported_at, lab, verdict)
        SELECT n, tube_id, round_id, result, reported_at, lab,
            CASE WHEN v = '{OK}' AND ROW_NUMBER() OVER (
                PARTITION BY v, tube_id, result, reported_at ORDER BY n) > 1
            THEN '{UNCHANGED}' ELSE v END
        FROM (
            SELECT s.n, t.id AS tube_id, t.round_id, s.result, s.reported_at, s.lab,
                CASE
                WHEN t.id IS NULL OR NOT {scope} THEN '{UNKNOWN}'
                WHEN r.status = %s THEN '{CLOSED}'
                WHEN s.id_number <> '' AND (SELECT COUNT(*) FROM {live}) <> 1
                    THEN '{POOLED}'
                WHEN s.id_number <> '' AND COALESCE((SELECT p.id_number FROM {
        live.replace(" WHERE", f" JOIN {person} p ON p.id = sm.person_id WHERE")
    } LIMIT 1), '') <> s.id_number THEN '{MISMATCH}'
                WHEN EXISTS (SELECT 1 FROM {record} rr WHERE rr.tube_id = t.id
                    AND rr.result = s.result AND rr.reported_at = s.reported_at)
                    THEN '{UNCHANGED}'
                ELSE '{OK}' END AS v
            FROM {_STAGE} s
            LEFT JOIN {tube} t ON t.barcode = s.barcode
            LEFT JOIN {round_} r ON r.id = t.round_id
            {"OFFSET 0" if bulk.is_postgres() else "LIMIT -1 OFFSET 0"}
        ) x
    """  # noqa: S608  (names from model meta and constants; values are parameters)
    _probe_by_index(cursor, True)
    cursor.execute(sql, [*params, RoundStatus.CLOSED])
    _probe_by_index(cursor, False)
    if bulk.is_postgres():
        # The later statements join this table: without statistics the planner took it
        # for a few rows and scanned it once per re-sampling task (44 s for 550,000 lines).
        cursor.execute(f"ANALYZE {_CLASSIFIED}")


def _refusals(cursor: Any, lines: list[ResultLine], outcome: BatchOutcome) -> None:
    cursor.execute(
        f"SELECT n, verdict, tube_id, round_id FROM {_CLASSIFIED} "  # noqa: S608
        f"WHERE verdict NOT IN ('{OK}', '{UNCHANGED}') ORDER BY n"
    )
    rows = cursor.fetchall()
    if not rows:
        return
    rounds = dict(
        Round.objects.filter(pk__in={r[3] for r in rows if r[1] == CLOSED}).values_list(
            "pk", "name"
        )
    )
    members: dict[int, int] = {}
    pooled = {r[2] for r in rows if r[1] == POOLED}
    if pooled:
        for tube_id in Sample.objects.filter(
            tube_id__in=pooled, removed_at__isnull=True
        ).values_list("tube_id", flat=True):
            members[tube_id] = members.get(tube_id, 0) + 1
    for n, verdict, tube_id, round_id in rows:
        line = lines[n]
        if verdict == UNKNOWN:
            outcome.unknown.add(line.barcode)
            reason = _("Unknown tube: no tube with this barcode was sampled in your regions.")
        elif verdict == CLOSED:
            reason = _("The round “%(round)s” of this tube is closed; no results can be added.") % {
                "round": rounds.get(round_id, "")
            }
        elif verdict == POOLED:
            reason = _(
                "This tube holds %(count)d people; a result for one person (with an ID "
                "number) needs a single tube (单采)."
            ) % {"count": members.get(tube_id, 0)}
        else:
            reason = _("The ID number does not match the person sampled into this tube.")
        outcome.rejected.append((line, reason))


def _record(cursor: Any, job_id: str, outcome: BatchOutcome) -> None:
    record = _q(ResultRecord._meta.db_table)
    cursor.execute(
        f"""INSERT INTO {record} (tube_id, result, reported_at, lab_name, received_at, job_id)
        SELECT tube_id, result, reported_at, lab, %s, %s FROM {_CLASSIFIED}
        WHERE verdict = '{OK}'""",  # noqa: S608
        [timezone.now(), job_id],
    )
    outcome.recorded = max(0, cursor.rowcount)
    cursor.execute(f"SELECT COUNT(*) FROM {_CLASSIFIED} WHERE verdict = '{UNCHANGED}'")  # noqa: S608
    outcome.unchanged = int(cursor.fetchone()[0])


def _update_tubes(cursor: Any) -> int:
    """Each tube's newest line of the batch becomes its result when newer than its own."""
    tube = _q(Tube._meta.db_table)
    _probe_by_index(cursor, True)
    g_new, g_old = _gravity_sql("u.result"), _gravity_sql(f"{tube}.result")
    newer = (
        f"({tube}.result_at IS NULL OR u.reported_at > {tube}.result_at OR "
        f"(u.reported_at = {tube}.result_at AND {g_new} > {g_old}))"
    )
    cursor.execute(
        f"""UPDATE {tube} SET status = %s, updated_at = %s,
            result = CASE WHEN {newer} THEN u.result ELSE {tube}.result END,
            result_at = CASE WHEN {newer} THEN u.reported_at ELSE {tube}.result_at END
        FROM (
            SELECT tube_id, result, reported_at FROM (
                SELECT tube_id, result, reported_at, ROW_NUMBER() OVER (
                    PARTITION BY tube_id
                    ORDER BY reported_at DESC, {_gravity_sql("result")} DESC) AS k
                FROM {_CLASSIFIED} WHERE verdict = '{OK}'
            ) z WHERE k = 1
        ) u
        WHERE {tube}.id = u.tube_id AND ({tube}.status <> %s OR {newer})""",  # noqa: S608
        [TubeStatus.RESULTED, timezone.now(), TubeStatus.RESULTED],
    )
    _probe_by_index(cursor, False)
    return max(0, cursor.rowcount)


def _open_cases(cursor: Any, actor: Any, outcome: BatchOutcome) -> list[PositiveCase]:
    """One case per newly positive tube, with a re-sampling task per live member."""
    tube, case = _q(Tube._meta.db_table), _q(PositiveCase._meta.db_table)
    cursor.execute(
        f"""SELECT o.tube_id, o.round_id, t.region_code, t.barcode, MIN(o.reported_at),
            MAX(CASE WHEN o.result = %s THEN 1 ELSE 0 END)
        FROM {_CLASSIFIED} o JOIN {tube} t ON t.id = o.tube_id
        WHERE o.verdict = '{OK}' AND o.result IN (%s, %s)
            AND NOT EXISTS (SELECT 1 FROM {case} c WHERE c.tube_id = o.tube_id)
        GROUP BY o.tube_id, o.round_id, t.region_code, t.barcode
        ORDER BY o.tube_id""",  # noqa: S608
        [TestResult.POSITIVE, TestResult.POOL_POSITIVE, TestResult.POSITIVE],
    )
    found = cursor.fetchall()
    if not found:
        return []
    members: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for tube_id, person_id, region_code in (
        Sample.objects.filter(tube_id__in=[row[0] for row in found], removed_at__isnull=True)
        .order_by("id")
        .values_list("tube_id", "person_id", "region_code")
    ):
        members[tube_id].append((person_id, region_code))
    cases = PositiveCase.objects.bulk_create(
        [
            PositiveCase(
                round_id=round_id,
                tube_id=tube_id,
                region_code=region_code,
                result=TestResult.POSITIVE if single else TestResult.POOL_POSITIVE,
                result_at=_as_datetime(first),
                member_count=len(members[tube_id]),
            )
            for tube_id, round_id, region_code, _barcode, first, single in found
        ]
    )
    ResampleTask.objects.bulk_create(
        [
            ResampleTask(case_id=made.pk, person_id=person_id, region_code=region_code)
            for made in cases
            for person_id, region_code in members[made.tube_id]
        ]
    )
    audit.record_many(actor, "screening.open_case", cases)
    outcome.cases = [made.pk for made in cases]
    outcome.positive_tubes = [row[3] for row in found]
    return cases


def _settle_tasks(cursor: Any, actor: Any) -> int:
    """Open re-sampling tasks whose re-sample tube got a result in this batch."""
    from fangkong.screening.actions.tracing import OPEN_TASK_STATUSES, settle_from_result

    task = _q(ResampleTask._meta.db_table)
    cursor.execute(
        f"""SELECT rt.id FROM {task} rt
        WHERE rt.resample_tube_id IS NOT NULL AND rt.status IN (%s, %s)
        AND rt.resample_tube_id IN (SELECT tube_id FROM {_CLASSIFIED} WHERE verdict = '{OK}')""",  # noqa: S608
        list(OPEN_TASK_STATUSES),
    )
    ids = [row[0] for row in cursor.fetchall()]
    settled = 0
    if ids:
        tasks = ResampleTask.objects.filter(pk__in=ids).select_related("case", "resample_tube")
        for found in tasks.order_by("id"):
            result = found.resample_tube.result if found.resample_tube else ""
            settled += bool(settle_from_result(actor, found, result))
    return settled


def _audit(
    cursor: Any, actor: Any, cases: list[PositiveCase], outcome: BatchOutcome, meta: dict[str, Any]
) -> None:
    round_ = _q(Round._meta.db_table)
    cursor.execute(
        f"""SELECT o.round_id, r.region_code,
            SUM(CASE WHEN o.verdict = '{OK}' THEN 1 ELSE 0 END),
            SUM(CASE WHEN o.verdict = '{UNCHANGED}' THEN 1 ELSE 0 END)
        FROM {_CLASSIFIED} o JOIN {round_} r ON r.id = o.round_id
        WHERE o.verdict IN ('{OK}', '{UNCHANGED}')
        GROUP BY o.round_id, r.region_code ORDER BY o.round_id"""  # noqa: S608
    )
    barcodes = dict(zip(outcome.cases, outcome.positive_tubes, strict=True))
    for round_id, region_code, recorded, unchanged in cursor.fetchall():
        if not recorded:
            continue  # a batch that changed nothing leaves no entry
        opened = [c for c in cases if c.round_id == round_id]
        audit.record(
            actor,
            "screening.record_results",
            object_type="screening.round",
            object_id=str(round_id),
            region_code=region_code,
            after={
                **meta,
                "results": int(recorded),
                "unchanged": int(unchanged),
                "positive_tubes": [barcodes[c.pk] for c in opened],
                "cases": [c.pk for c in opened],
            },
        )


def apply_results(
    actor: Any,
    lines: list[ResultLine],
    *,
    job_id: str = "",
    filename: str = "",
    dry_run: bool = False,
) -> BatchOutcome:
    """Record a batch of result lines (see the module's docstring); refusals come back in
    ``rejected`` with their reason, unknown barcodes in ``unknown``."""
    raw = None if actor is None else scope_codes(actor, Perm.IMPORT_RESULTS)
    if raw is not None and not raw:
        raise PermissionDenied(_("You may not import lab results."))
    codes = tuple(raw) if raw is not None else None
    outcome = BatchOutcome()
    if not lines:
        return outcome
    with transaction.atomic(), connection.cursor() as cursor:
        _prepare(cursor)
        _load(lines)
        _classify(cursor, codes)
        _refusals(cursor, lines, outcome)
        _record(cursor, job_id, outcome)
        if outcome.recorded:
            outcome.tubes_updated = _update_tubes(cursor)
            cases = _open_cases(cursor, actor, outcome)
            outcome.tasks_settled = _settle_tasks(cursor, actor)
            _audit(cursor, actor, cases, outcome, {"job": job_id, "file": filename})
        if dry_run:
            transaction.set_rollback(True)
    return outcome


def record_result(
    actor: Any, tube: Tube, result: str, reported_at: dt.datetime, lab: str = ""
) -> BatchOutcome:
    """One result for one tube (the API, tests); ValidationError when it is refused."""
    if result not in GRAVITY:
        raise ValidationError({"result": [_("Unknown result.")]})
    line = ResultLine(None, tube.barcode, result, reported_at, lab=lab[:100])
    outcome = apply_results(actor, [line])
    if outcome.rejected:
        raise ValidationError(outcome.rejected[0][1])
    return outcome


def record_import_summary(
    actor: Any,
    outcome: BatchOutcome,
    *,
    job_id: str,
    filename: str,
    rejected: int,
    unknown: int,
) -> None:
    """The one audit entry of a whole import (its batches have their own)."""
    codes = None if actor is None else scope_codes(actor, Perm.IMPORT_RESULTS)
    region = codes[0] if codes and len(codes) == 1 else ""
    audit.record(
        actor,
        "screening.import_results",
        object_type="screening.resultrecord",
        object_id=job_id,
        region_code=region,
        after={
            "file": filename,
            "results": outcome.recorded,
            "unchanged": outcome.unchanged,
            "unknown_tubes": unknown,
            "rejected": rejected,
            "positives": len(outcome.cases),
            "cases": outcome.cases[:200],
        },
    )
