"""A person's notifications (marked read once shown) and how they are e-mailed."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from assessments import actions
from assessments.forms import NotificationPreferenceForm
from assessments.models import EmailChoice, Notification
from assessments.roles import permission_required
from assessments.views.common import HtmxHttpRequest, paginate

PAGE_SIZE = 30


@permission_required("assessments.view_agent")
@require_GET
def notification_list(request: HtmxHttpRequest) -> HttpResponse:
    """Your notifications, newest first. Those on the page are marked read once shown;
    they keep their "new" mark on this one showing."""
    page = paginate(
        request,
        Notification.objects.filter(recipient_id=request.user.pk).order_by("-created_at", "-pk"),
        PAGE_SIZE,
    )
    notices = list(page.object_list)
    unread = [n.pk for n in notices if n.read_at is None]
    if unread:
        actions.mark_notifications_read(request.user, unread)
    context = {
        "page": page,
        "notices": notices,
        "unread": set(unread),
        "email_choice": EmailChoice(actions.email_choice(request.user)).label,
    }
    return render(request, "assessments/notification_list.html", context)


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
