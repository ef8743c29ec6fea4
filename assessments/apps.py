from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AssessmentsConfig(AppConfig):
    default = True
    name = "assessments"
    verbose_name = "Agent Identity Assessor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from assessments import signals, tasks  # noqa: F401
        from assessments.access import (  # noqa: F401
            accounts,
            logsafe,  # noqa: F401 (masks feed tokens in request logs)
            sso,
        )

        logsafe.install()  # calendar feed tokens out of request logs


class AssessorAdminConfig(admin_apps.AdminConfig):
    """The admin, open to the administrator role only (see admin_site.AssessorAdminSite)."""

    default = False
    default_site = "assessments.admin_site.AssessorAdminSite"
