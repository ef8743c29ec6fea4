"""A person's notifications (marked read once shown) and how they are e-mailed."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from assessments import actions
from assessments.access.roles import has_role, permission_required
from assessments.context_processors import inbox_counts
from assessments.forms import NotificationPreferenceForm
from assessments.models import EmailChoice, Notification
from assessments.views.common import HtmxHttpRequest, paginate

PAGE_SIZE = 30


@permission_required("assessments.view_agent")
@require_GET
def notification_list(request: HtmxHttpRequest) -> HttpResponse:
    """Your notifications, newest first (``?show=unread``: the unread ones, as many as
    the bell counts). Those on the page are marked read once shown; they keep their
    "new" mark on this one showing. A request for a decision already made shows as done,
    by whom and when."""
    mine = Notification.objects.filter(recipient_id=request.user.pk)
    only_unread = request.GET.get("show") == "unread"
    shown = mine.unread() if only_unread else mine
    page = paginate(
        request,
        shown.select_related("resolved_by").order_by("-created_at", "-pk"),
        PAGE_SIZE,
    )
    notices = list(page.object_list)
    # The bell and the Unread tab both count what was unread when the page opened (the
    # ones shown are then marked read, and keep their "New" mark on this showing).
    inbox = inbox_counts(request.user, reviewer=has_role(request.user, "reviewer"))
    unread_count = inbox["unread"]
    unread = [n.pk for n in notices if n.read_at is None]
    if unread:
        actions.mark_notifications_read(request.user, unread)
    context = {
        "page": page,
        "notices": notices,
        "unread": set(unread),
        "unread_count": unread_count,
        "inbox": inbox,
        "only_unread": only_unread,
        "email_choice": EmailChoice(actions.email_choice(request.user)).label,
    }
    return render(request, "assessments/notification_list.html", context)


@permission_required("assessments.view_agent")
@require_POST
def notification_mark_all_read(request: HtmxHttpRequest) -> HttpResponse:
    """Mark all of your notifications read."""
    count = actions.mark_all_notifications_read(request.user, request=request)
    messages.success(
        request,
        f"Marked {count} notification{'s' if count != 1 else ''} read."
        if count
        else "Nothing was unread.",
    )
    return redirect("assessments:notification_list")


@permission_required("assessments.view_agent")
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HtmxHttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = NotificationPreferenceForm(request.POST)
        if form.is_valid():
            actions.set_notification_preference(
                request.user, form.cleaned_data["email"], request=request
            )
            messages.success(request, "Saved. Your e-mail preference applies from now on.")
            return redirect("assessments:notification_preferences")
        status = 422
    else:
        form = NotificationPreferenceForm(initial={"email": actions.email_choice(request.user)})
    return render(
        request, "assessments/notification_preferences.html", {"form": form}, status=status
    )
