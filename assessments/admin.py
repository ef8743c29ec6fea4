from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from assessments import actions
from assessments import models as m
from assessments.catalogue.admin import (
    CatalogueInlineMixin,
    CatalogueRowAdminMixin,
    CatalogueVersionAdminMixin,
    ControlForm,
    ControlMappingForm,
    FrameworkItemForm,
    ReferenceNoteForm,
)
from assessments.records import audit

User = get_user_model()


class SystemInline(admin.TabularInline):
    model = m.System
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "team",
        "owner",
        "status",
        "current_classification",
        "current_tier",
        "next_review_on",
    ]
    list_filter = ["status", "team", "current_classification", "current_tier"]
    search_fields = ["name", "slug"]
    list_select_related = ["team", "owner"]
    inlines = [SystemInline]
    readonly_fields = [
        "current_classification",
        "current_tier",
        "next_review_on",
        "lock_version",
        "created_at",
        "updated_at",
        "retired_at",
    ]

    # Agents are registered and edited on the app's pages only (``View on site``): there
    # every change goes through actions.create_agent/update_agent, which write the audit
    # event, trigger reassessments and bump lock_version. A second editing path here
    # would bypass all three, so the admin lists and shows agents read-only.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # agents are retired, never deleted


class AuditedAdmin(admin.ModelAdmin):
    """Each save and delete in the admin is an audit event (``<model>.create``,
    ``.change``, ``.delete``) with the fields that changed. Many-to-many fields are left
    to their own signals (team membership: ``accounts.py``)."""

    def _values(self, obj: Any) -> dict[str, Any]:
        return {
            f.name: getattr(obj, f.attname)
            for f in obj._meta.concrete_fields
            if not f.primary_key and f.name not in getattr(self, "unaudited_fields", ())
        }

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        model = type(obj)
        before = self._values(model.objects.get(pk=obj.pk)) if change and obj.pk else {}
        super().save_model(request, obj, form, change)
        changes = audit.diff(before, self._values(obj))
        if change and not changes:
            return
        verb = f"{model._meta.model_name}.{'change' if change else 'create'}"
        audit.record(verb, actor=request.user, obj=obj, request=request, changes=changes)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        values = self._values(obj)
        name, pk = obj._meta.model_name, obj.pk
        super().delete_model(request, obj)
        audit.record(
            f"{name}.delete",
            actor=request.user,
            request=request,
            changes={"deleted": audit.diff(values, {})},
            object_repr=f"{obj} (#{pk})",
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:  # one event per row, as a row deleted on its own page
            self.delete_model(request, obj)


@admin.register(m.Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    # Submissions of the team's agents are announced to its reviewers (when it has any).
    filter_horizontal = ["members"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = [
        "agent",
        "number",
        "status",
        "classification",
        "tier",
        "assessor",
        "reviewer",
        "updated_at",
    ]
    list_filter = ["status", "classification", "tier"]
    list_select_related = ["agent", "assessor", "reviewer"]
    search_fields = ["agent__name", "agent__slug"]


@admin.register(m.Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["agent", "state", "due_on", "assignee", "triggered_at"]
    list_filter = ["state"]
    list_select_related = ["agent", "assignee"]


@admin.register(m.GapException)
class GapExceptionAdmin(ReadOnlyAdmin):
    list_display = ["agent", "subject", "expires_on", "accepted_by", "revoked_at"]
    list_select_related = ["agent", "accepted_by"]


@admin.register(m.AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_label", "verb", "object_repr", "ip_address"]
    list_filter = ["verb"]
    search_fields = ["actor_label", "object_repr", "verb"]


@admin.register(m.ReportRecord)
class ReportRecordAdmin(ReadOnlyAdmin):
    list_display = ["document_id", "kind", "assessment", "created_at", "created_by"]
    list_select_related = ["assessment__agent", "created_by"]


@admin.register(m.ReviewInterval)
class ReviewIntervalAdmin(AuditedAdmin):
    list_display = ["tier", "days"]


class ControlMappingInline(CatalogueInlineMixin, admin.TabularInline):
    model = m.ControlMapping
    form = ControlMappingForm
    extra = 0
    autocomplete_fields = ["item"]


@admin.register(m.Control)
class ControlAdmin(CatalogueRowAdminMixin, admin.ModelAdmin):
    form = ControlForm
    list_display = ["control_id", "title", "catalogue"]
    list_filter = ["catalogue"]
    list_select_related = ["catalogue"]
    search_fields = ["control_id", "title"]
    inlines = [ControlMappingInline]


@admin.register(m.FrameworkItem)
class FrameworkItemAdmin(CatalogueRowAdminMixin, admin.ModelAdmin):
    form = FrameworkItemForm
    list_display = ["item_id", "title", "framework"]
    list_filter = ["framework__catalogue", "framework"]
    search_fields = ["item_id", "title"]
    list_select_related = ["framework"]
    raw_id_fields = ["parent"]


@admin.register(m.Framework)
class FrameworkAdmin(CatalogueRowAdminMixin, admin.ModelAdmin):
    list_display = ["short_name", "key", "version", "catalogue"]
    list_filter = ["catalogue"]
    list_select_related = ["catalogue"]


@admin.register(m.CatalogueVersion)
class CatalogueVersionAdmin(CatalogueVersionAdminMixin, admin.ModelAdmin):
    list_display = ["version", "is_current", "locked", "assessments", "created_at"]
    fields = ["version", "is_current", "notes", "created_at", "updated_at"]
    actions = ["copy_as_new_version", "make_current"]


@admin.register(m.ReferenceNote)
class ReferenceNoteAdmin(CatalogueRowAdminMixin, admin.ModelAdmin):
    form = ReferenceNoteForm
    list_display = ["cited", "status", "catalogue"]
    list_filter = ["catalogue"]
    list_select_related = ["catalogue"]


# --------------------------------------------------------------------------- users


class GuardedUserAdmin(UserAdmin):
    """Administrators manage people and their roles; only a superuser touches superusers.

    An administrator (the role) who is not a superuser cannot grant superuser status,
    cannot change or delete a superuser's account, and assigns permissions through roles
    only (no per-user permissions)."""

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("groups")

    def _is_superuser(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if self._is_superuser(request):
            return fieldsets
        hidden = {"is_superuser", "user_permissions"}
        return [
            (name, {**opts, "fields": tuple(f for f in opts["fields"] if f not in hidden)})
            for name, opts in fieldsets
        ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not self._is_superuser(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not self._is_superuser(request):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not self._is_superuser(request) and obj.is_superuser:
            # The field is not on the form; refuse any other way of setting it too.
            raise PermissionDenied("Only a superuser can grant superuser status.")
        super().save_model(request, obj, form, change)


admin.site.unregister(User)
admin.site.register(User, GuardedUserAdmin)


# --------------------------------------------------------------------------- webhooks


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=m.WebhookEndpoint.EVENTS, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = m.WebhookEndpoint
        fields = ["name", "url", "events", "is_active"]

    def clean(self) -> dict[str, Any]:
        """The actions' own checks, as form errors: ``save_model`` cannot refuse."""
        from assessments.actions.webhooks import _check

        data = super().clean() or {}
        if "url" in data and "events" in data:
            try:
                _check(data["url"], list(data["events"]))
            except actions.ActionError as error:
                self.add_error("url", str(error))
        return data


@admin.register(m.WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Registered through the webhook actions, so every change is an audit event."""

    form = WebhookEndpointForm
    list_display = ["name", "url", "is_active", "created_at"]
    readonly_fields = ["secret", "created_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # switch it off instead; its delivery log stays

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = actions.update_webhook_endpoint(
                request.user,
                obj,
                name=data["name"],
                url=data["url"],
                events=data["events"],
                is_active=data["is_active"],
                request=request,
            )
        else:
            saved = actions.create_webhook_endpoint(
                request.user,
                name=data["name"],
                url=data["url"],
                events=data["events"],
                request=request,
            )
            if not data["is_active"]:
                saved = actions.update_webhook_endpoint(
                    request.user,
                    saved,
                    name=saved.name,
                    url=saved.url,
                    events=saved.events,
                    is_active=False,
                    request=request,
                )
        obj.pk, obj.secret = saved.pk, saved.secret


@admin.register(m.WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log; a failed delivery can be sent again."""

    list_display = [
        "event",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["state", "event", "endpoint"]
    list_select_related = ["endpoint"]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in m.WebhookDelivery._meta.fields]

    @admin.action(description="Send the selected deliveries again")
    def send_again(self, request: HttpRequest, queryset: Any) -> None:
        sent = 0
        for delivery in queryset:
            try:
                actions.resend_webhook(request.user, delivery, request=request)
                sent += 1
            except actions.ActionError as error:
                self.message_user(request, f"{delivery}: {error}", level="error")
        self.message_user(request, f"{sent} deliver{'ies' if sent != 1 else 'y'} sent again.")


@admin.register(m.AppetiteBand)
class AppetiteBandAdmin(AuditedAdmin):
    """The board's appetite per headline figure of the board pack (reports/appetite.py)."""

    list_display = ["figure", "unit", "green_up_to", "red_above", "owner", "target"]
    fields = ["figure", "unit", "green_up_to", "red_above", "owner", "target"]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "figure":
            from assessments.reports.appetite import DEFAULTS

            return forms.ChoiceField(
                choices=[(k, v[0]) for k, v in DEFAULTS.items()], label="Figure"
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


# Campaigns are started and attested on the app's pages (every change is audited there):
# the admin only reads them.
@admin.register(m.CertificationCampaign)
class CertificationCampaignAdmin(ReadOnlyAdmin):
    list_display = ["name", "scope", "deadline", "started_by", "started_at", "escalated_at"]
    list_filter = ["scope"]
    search_fields = ["name"]


@admin.register(m.CertificationItem)
class CertificationItemAdmin(ReadOnlyAdmin):
    list_display = ["campaign", "agent", "kind", "system_name", "access", "decision", "decided_at"]
    list_filter = ["kind", "decision"]
    list_select_related = ["campaign", "agent"]
    search_fields = ["agent__name", "agent__slug", "system_name"]
