"""Core records with no domain of their own: audit entries, the access log, jobs."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def region_code_field(*, db_index: bool = True) -> models.CharField:
    """A record's region (DESIGN rule 1). ``db_index=False`` for a record that is always
    reached through another one and never listed by region."""
    return models.CharField(_("region code"), max_length=15, db_index=db_index)


class ScopedModel(models.Model):
    """Base for every record that belongs to a region (DESIGN rule 1)."""

    region_code = region_code_field()
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    SCOPE_FIELD = "region_code"

    class Meta:
        abstract = True


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk update and delete are refused: these tables are evidence."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError("append-only table")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise PermissionError("append-only table")


AppendOnlyManager = models.Manager.from_queryset(AppendOnlyQuerySet)


class AppendOnlyModel(models.Model):
    objects = AppendOnlyManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("append-only record")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError("append-only record")


class AuditEntry(AppendOnlyModel):
    """Who did what, when, to which record, with the values before and after (审计日志)."""

    # Every action writes one entry, so each index costs every write (postings per second,
    # bench/supplies_postings.py). Indexed: the time (list order, date filter), the region
    # (scoped lists) and (object_type, object_id) (a record's history; its leading column
    # serves the object-type filter). Not indexed: the action and the actor's name are
    # filtered with icontains, which no b-tree serves; nothing reads by actor id (users are
    # deactivated, not deleted).
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,
        related_name="+",
    )
    actor_name = models.CharField(_("actor"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    region_code = models.CharField(_("region code"), max_length=15, db_index=True, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=36, blank=True)
    source = models.CharField(_("source"), max_length=16, blank=True)  # web, api, cli, job

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"


class AccessKind(models.TextChoices):
    REVEAL = "reveal", _("Reveal")
    EXPORT = "export", _("Export")


class AccessLogEntry(AppendOnlyModel):
    """A reveal of personal data or an export of a list (查看与导出记录)."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_name = models.CharField(_("user"), max_length=150, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=AccessKind.choices, db_index=True)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    region_code = models.CharField(_("region code"), max_length=15, db_index=True, blank=True)
    fields = models.JSONField(_("fields"), default=list, blank=True)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    unmasked = models.BooleanField(_("unmasked"), default=False)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    request_id = models.CharField(_("request id"), max_length=36, blank=True)

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user_name} {self.kind}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class Job(models.Model):
    """A piece of long work with progress that a user can watch (后台任务)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=64, db_index=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    region_code = models.CharField(_("region code"), max_length=15, db_index=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    done = models.PositiveBigIntegerField(_("done"), default=0)
    total = models.PositiveBigIntegerField(_("total"), null=True, blank=True)
    messages = models.JSONField(_("messages"), default=list, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    result_file = models.CharField(_("result file"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    SCOPE_FIELD = "region_code"

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.status == JobStatus.SUCCEEDED else None
        return min(100, int(self.done * 100 / self.total))

    @property
    def is_finished(self) -> bool:
        return self.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}
