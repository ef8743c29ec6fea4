"""Audit events for signing in and out, and session tracking for account disabling."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from assessments.access import accounts
from assessments.actions.ownership import person_left
from assessments.models import (
    PORTFOLIO_QUIET_FIELDS,
    Agent,
    AgentOwner,
    Assessment,
    CalendarFeed,
    GapException,
    Review,
    UserSession,
    portfolio_changed,
)
from assessments.records import audit


@receiver(user_logged_in)
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and getattr(request, "session", None) is not None:
        now = int(time.time())
        request.session["auth_started"] = now
        request.session["last_seen"] = now
        if request.session.session_key is None:
            request.session.save()
        UserSession.objects.get_or_create(
            session_key=request.session.session_key, defaults={"user": user}
        )
    audit.record("auth.login", actor=user, obj=user, request=request)


@receiver(user_logged_out)
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record("auth.logout", actor=user, obj=user, request=request)


User = get_user_model()


@receiver(pre_save, sender=User)
def remember_active_state(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._was_active = (
        sender.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
        if instance.pk
        else None
    )


@receiver(post_save, sender=User)
def end_sessions_of_disabled_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # loading a backup or fixture: rows as they were, no side effects
        return
    if instance.is_active or getattr(instance, "_was_active", None) is False:
        return
    keys = list(UserSession.objects.filter(user=instance).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(user=instance).delete()
    # Calendar feed URLs are credentials too: revoked for good, so reactivating the
    # account does not bring back URLs that may have been shared while it was disabled.
    feeds = CalendarFeed.objects.filter(owner=instance, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    audit.record(
        "auth.sessions_ended", obj=instance, changes={"sessions": len(keys), "feeds_revoked": feeds}
    )
    if instance.pk and getattr(instance, "_was_active", None):
        # A leaver's agents pass to their successors, or become orphaned.
        request = accounts.current_request()
        actor = getattr(request, "user", None) if request is not None else None
        person_left(
            instance,
            how="account disabled",
            actor=actor if actor is not None and actor.is_authenticated else None,
            request=request,
        )


# A change to any part of a catalogue version marks the version as changed, so the
# engine's compiled copy of it is rebuilt (decisions.engine_catalogue).
def _touch_catalogue(sender: Any, instance: Any, **kwargs: Any) -> None:
    from assessments import models as m

    if kwargs.get("raw"):  # loading a backup: the version's own updated_at is restored
        return
    parent: Any = None
    if isinstance(instance, m.FrameworkItem):
        parent = m.Framework.objects.filter(pk=instance.framework_id)
    elif isinstance(instance, m.ControlMapping):
        parent = m.Control.objects.filter(pk=instance.control_id)
    catalogue_id = (
        parent.values_list("catalogue_id", flat=True).first()
        if parent is not None
        else instance.catalogue_id
    )
    if catalogue_id is not None:
        m.CatalogueVersion.objects.filter(pk=catalogue_id).update(updated_at=timezone.now())


def _connect_catalogue_signals() -> None:
    from assessments import models as m

    for model in (m.Framework, m.FrameworkItem, m.Control, m.ControlMapping, m.ReferenceNote):
        post_save.connect(_touch_catalogue, sender=model, dispatch_uid=f"touch-{model.__name__}")
        post_delete.connect(
            _touch_catalogue, sender=model, dispatch_uid=f"touch-del-{model.__name__}"
        )


_connect_catalogue_signals()


# The dashboard's snapshot (PortfolioSnapshot) is dropped by any change to what its
# figures read; an autosave of a draft's answers moves no figure and keeps it.
PORTFOLIO_MODELS = (Agent, AgentOwner, Assessment, GapException, Review)


def _portfolio_saved(sender: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) <= PORTFOLIO_QUIET_FIELDS:
        return
    portfolio_changed()


def _portfolio_deleted(sender: Any, **kwargs: Any) -> None:
    portfolio_changed()


for _model in PORTFOLIO_MODELS:
    post_save.connect(_portfolio_saved, sender=_model, dispatch_uid=f"portfolio-save-{_model}")
    post_delete.connect(
        _portfolio_deleted, sender=_model, dispatch_uid=f"portfolio-delete-{_model}"
    )
