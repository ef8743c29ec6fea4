"""Admin behaviour for catalogue versions: locks, copies, making current, audit events.

The ModelAdmins themselves are registered in admin.py; these mixins, forms and actions
hold the catalogue rules so that admin.py stays a list of registrations.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import ActionLocation, helpers
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from assessments import actions, engine
from assessments import catalogue as versions
from assessments.models import CatalogueVersion, Framework, FrameworkItem
from assessments.records import audit

BOTH_LOCATIONS = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]


def _catalogue_of(obj: Any) -> int | None:
    """The catalogue version id of a framework, item, control, mapping or note."""
    if obj is None:
        return None
    if hasattr(obj, "catalogue_id"):
        return obj.catalogue_id
    if hasattr(obj, "framework_id"):  # a framework item
        return (
            Framework.objects.filter(pk=obj.framework_id)
            .values_list("catalogue_id", flat=True)
            .first()
        )
    if hasattr(obj, "control_id"):  # a control mapping
        return obj.control.catalogue_id if obj.control_id else None
    return None


class NoBulkDeleteMixin:
    """Bulk deletion would skip the per-row lock checks: rows are deleted one at a time."""

    def get_actions(
        self, request: HttpRequest, action_location: ActionLocation = ActionLocation.CHANGE_LIST
    ) -> dict[str, Any]:
        found = super().get_actions(request, action_location=action_location)  # type: ignore[misc]
        found.pop("delete_selected", None)
        return found


class CatalogueRowAdminMixin(NoBulkDeleteMixin):
    """Rows of a locked catalogue version are read-only; other edits are audited.

    Mixed into the ModelAdmins of Framework, FrameworkItem, Control and ReferenceNote.
    """

    def _locked(self, obj: Any) -> bool:
        return obj is not None and versions.is_locked(_catalogue_of(obj))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if self._locked(obj):
            return False
        return super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if self._locked(obj):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        version_id = _catalogue_of(obj)
        if request.method == "GET" and version_id is not None and versions.is_locked(version_id):
            version = CatalogueVersion.objects.get(pk=version_id)
            messages.warning(request, versions.lock_message(version))
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # New and moved rows may only go into versions that are not locked.
        locked = versions.locked_version_ids()
        if db_field.name == "catalogue":
            kwargs["queryset"] = CatalogueVersion.objects.exclude(pk__in=locked)
        elif db_field.name == "framework":
            kwargs["queryset"] = Framework.objects.exclude(catalogue__in=locked).select_related(
                "catalogue"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        _audit_save(request, obj, form, change, _version_label(_catalogue_of(obj)))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        label = _version_label(_catalogue_of(obj))
        audit.record(
            "catalogue.delete",
            actor=request.user,
            obj=obj,
            request=request,
            changes={"catalogue": label},
        )
        super().delete_model(request, obj)  # type: ignore[misc]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)  # type: ignore[misc]
        added = [str(o) for o in formset.new_objects]
        changed = [str(o) for o, _ in formset.changed_objects]
        deleted = [str(o) for o in formset.deleted_objects]
        if added or changed or deleted:
            audit.record(
                "catalogue.edit",
                actor=request.user,
                obj=form.instance,
                request=request,
                changes={
                    "catalogue": _version_label(_catalogue_of(form.instance)),
                    f"{formset.model._meta.model_name}s": {
                        "added": added,
                        "changed": changed,
                        "deleted": deleted,
                    },
                },
            )


class CatalogueInlineMixin:
    """An inline under a control: read-only when the control's version is locked."""

    def _locked(self, obj: Any) -> bool:
        return obj is not None and versions.is_locked(_catalogue_of(obj))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_add_permission(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._locked(obj) and super().has_delete_permission(request, obj)  # type: ignore[misc]


def _audit_save(request: HttpRequest, obj: Any, form: Any, change: bool, version: Any) -> None:
    """An admin edit of catalogue data, with each changed field's old and new value."""
    # form.initial holds the values the form was built from, i.e. before this save.
    before = {name: form.initial.get(name) for name in form.fields}
    after = {name: form.cleaned_data.get(name) for name in form.fields}
    audit.record(
        "catalogue.edit" if change else "catalogue.add",
        actor=request.user,
        obj=obj,
        request=request,
        changes={"catalogue": version, "fields": audit.diff(before, _plain(after))},
    )


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Related objects as their primary keys, as ``form.initial`` holds them."""
    return {k: getattr(v, "pk", v) for k, v in values.items()}


def _version_label(version_id: int | None) -> str | None:
    if version_id is None:
        return None
    return CatalogueVersion.objects.filter(pk=version_id).values_list("version", flat=True).first()


# --------------------------------------------------------------------------- forms


class ControlMappingForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        item = cleaned.get("item")
        control = getattr(self.instance, "control", None)
        if item is not None and control is not None and control.catalogue_id is not None:
            item_catalogue = (
                Framework.objects.filter(pk=item.framework_id)
                .values_list("catalogue_id", flat=True)
                .first()
            )
            if item_catalogue != control.catalogue_id:
                raise forms.ValidationError(
                    f"{item} belongs to another catalogue version. Map a control only to items "
                    "of its own version."
                )
        return cleaned


class ControlForm(forms.ModelForm):
    """Conditions are checked by the engine, so a saved control can always be applied."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        names = ("applies_when", "in_place_when", "gap_when")
        if any(name in self.errors for name in names):
            return cleaned
        candidate = {
            "id": cleaned.get("control_id") or "new",
            "title": cleaned.get("title") or "new",
            "description": cleaned.get("description") or "",
            **{name: cleaned.get(name) for name in names},
        }
        try:
            engine.Catalogue.from_dict(
                {"version": "check", "frameworks": [], "controls": [candidate]}
            )
        except engine.CatalogueError as exc:
            raise forms.ValidationError(
                f"The engine cannot apply these conditions: {exc} Write each condition as a "
                'list of clauses, e.g. [{"credential_model": ["per_task_tokens"]}].'
            ) from None
        return cleaned


class ReferenceNoteForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("status") not in (None, "invalid", "valid"):
            self.add_error("status", "Use “invalid” or “valid”.")
        use, version = cleaned.get("use"), cleaned.get("catalogue")
        if use is None or version is None:
            return cleaned
        if not isinstance(use, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
            for pair in use
        ):
            self.add_error(
                "use",
                'Give a list of [framework key, item id] pairs, e.g. [["csa_maestro", "L6"]].',
            )
            return cleaned
        for framework_key, item_id in use:
            if not FrameworkItem.objects.filter(
                framework__catalogue=version, framework__key=framework_key, item_id=item_id
            ).exists():
                self.add_error(
                    "use",
                    f"{framework_key} {item_id} is not an item of catalogue {version.version}.",
                )
        return cleaned


class FrameworkItemForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        parent, framework = cleaned.get("parent"), cleaned.get("framework")
        if parent is not None and framework is not None:
            position = cleaned.get("position")
            if parent.framework_id != framework.pk:
                self.add_error("parent", "The parent must be an item of the same framework.")
            elif position is not None and parent.position >= position:
                # The engine reads items in position order and needs each parent first.
                self.add_error("parent", "The parent must come before the item (a lower position).")
            elif self.instance.pk is not None:
                ancestor: FrameworkItem | None = parent
                while ancestor is not None:
                    if ancestor.pk == self.instance.pk:
                        self.add_error("parent", "An item cannot sit under itself.")
                        break
                    ancestor = ancestor.parent
        return cleaned


class CopyVersionForm(forms.Form):
    new_version = forms.CharField(
        label="New version string",
        max_length=versions.VERSION_MAX_LENGTH,
        help_text="For example 2026.2. Version strings are never reused.",
    )

    def clean_new_version(self) -> str:
        try:
            return versions.check_version_string(self.cleaned_data["new_version"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


# --------------------------------------------------------------------------- version admin


class CatalogueVersionAdminMixin(NoBulkDeleteMixin):
    """Versions: the lock shown, ``is_current`` changed only by the "Make current" action."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[CatalogueVersion]:
        return versions.versions_with_counts()

    @admin.display(description="Locked", boolean=True)
    def locked(self, obj: CatalogueVersion) -> bool:
        return bool(getattr(obj, "decided_count", 0))

    @admin.display(description="Assessments", ordering="assessment_count")
    def assessments(self, obj: CatalogueVersion) -> int:
        return getattr(obj, "assessment_count", 0)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["is_current", "created_at", "updated_at"]
        if obj is not None and versions.is_locked(obj.pk):
            fields.insert(0, "version")
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and (obj.is_current or obj.assessments.exists()):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if request.method == "GET" and obj is not None and versions.is_locked(obj.pk):
            messages.warning(request, versions.lock_message(obj))
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        _audit_save(request, obj, form, change, obj.version)

    def get_view_on_site_url(self, obj: CatalogueVersion | None = None) -> str | None:
        if obj is None:
            return None
        return f"{reverse('assessments:catalogue')}?{urlencode({'version': obj.version})}"

    @admin.action(description="Copy as a new version", permissions=["add"], location=BOTH_LOCATIONS)
    def copy_as_new_version(
        self, request: HttpRequest, queryset: QuerySet[CatalogueVersion]
    ) -> HttpResponse | None:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(  # type: ignore[attr-defined]
                request, "Select exactly one catalogue version to copy.", messages.ERROR
            )
            return None
        source = chosen[0]
        if "apply" in request.POST:
            form = CopyVersionForm(request.POST)
            if form.is_valid():
                try:
                    copy = actions.copy_catalogue_version(
                        request.user,
                        source,
                        new_version=form.cleaned_data["new_version"],
                        request=request,
                    )
                except actions.ActionError as exc:
                    form.add_error("new_version", str(exc))
                else:
                    self.message_user(  # type: ignore[attr-defined]
                        request,
                        f"Copied catalogue {source.version} as {copy.version}, with its "
                        "frameworks, items, controls, mappings and notes. Edit the copy, then "
                        "use “Make current” so new assessments use it.",
                        messages.SUCCESS,
                    )
                    return None
        else:
            form = CopyVersionForm(
                initial={"new_version": versions.next_copy_version(source.version)}
            )
        opts = self.model._meta  # type: ignore[attr-defined]
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"Copy catalogue {source.version} as a new version",
            "opts": opts,
            "source": source,
            "form": form,
            "action_name": "copy_as_new_version",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            "counts": versions.counts_for(source),
        }
        return TemplateResponse(request, "admin/assessments/catalogueversion/copy.html", context)

    @admin.action(description="Make current", permissions=["change"], location=BOTH_LOCATIONS)
    def make_current(
        self, request: HttpRequest, queryset: QuerySet[CatalogueVersion]
    ) -> HttpResponse | None:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(  # type: ignore[attr-defined]
                request, "Select exactly one catalogue version to make current.", messages.ERROR
            )
            return None
        try:
            version = actions.make_catalogue_current(request.user, chosen[0], request=request)
        except actions.ActionError as exc:
            self.message_user(request, str(exc), messages.ERROR)  # type: ignore[attr-defined]
            return None
        self.message_user(  # type: ignore[attr-defined]
            request,
            f"Catalogue {version.version} is now current: new assessments are decided under "
            "it. Assessments already started keep the version they started with.",
            messages.SUCCESS,
        )
        return None
