from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "fangkong.core"
    label = "core"
    verbose_name = _("Core")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangkong.core import checks  # noqa: F401  (registers system checks)

        # Job kinds register themselves with @job_kind in <app>/tasks.py; importing every
        # app's tasks module here means a worker knows every kind before its first task.
        autodiscover_modules("tasks")
