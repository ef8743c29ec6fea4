"""Calendar feeds: people create and revoke secret iCalendar URLs of their review dates.

The feed itself is served without a session: calendar clients cannot sign in, so the
random token in the URL is the credential. Unknown and revoked tokens get a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from assessments import actions
from assessments.access.roles import permission_required
from assessments.forms.reviews import FeedForm
from assessments.interchange import ical
from assessments.models import CalendarFeed
from assessments.views.common import HtmxHttpRequest, confirm_revoke

_NEW_FEED = "new_calendar_feed"


@permission_required("assessments.view_review")
def calendar_feeds(request: HtmxHttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = FeedForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                feed, token = actions.create_calendar_feed(
                    request.user,
                    scope=form.cleaned_data["scope"],
                    team=form.cleaned_data.get("team"),
                    request=request,
                )
            except actions.ActionError as error:
                form.add_error(None, str(error))
                status = 422
            else:
                # Shown once, on the page this redirects to; only its hash is kept.
                request.session[_NEW_FEED] = {"id": feed.pk, "url": ical.feed_url(token)}
                return redirect("assessments:calendar_feeds")
        else:
            status = 422
    else:
        form = FeedForm(user=request.user)
    new = request.session.pop(_NEW_FEED, None)
    feeds = list(
        CalendarFeed.objects.filter(owner_id=request.user.pk)
        .select_related("team")
        .order_by("revoked_at", "-created_at")
    )
    context = {
        "form": form,
        "feeds": feeds,
        "active_count": sum(1 for f in feeds if f.revoked_at is None),
        "new_feed": new,
    }
    return render(request, "assessments/calendar_feeds.html", context, status=status)


@permission_required("assessments.view_review")
@require_http_methods(["GET", "POST"])
def calendar_feed_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (a page without JavaScript, the app's dialog with it);
    POST revokes."""
    # Someone else's feed is as good as missing: do not confirm that it exists.
    feed = get_object_or_404(
        CalendarFeed.objects.select_related("team"), pk=pk, owner_id=request.user.pk
    )
    if request.method == "GET":
        if feed.revoked_at is not None:
            messages.info(request, "This feed is already revoked.")
            return redirect("assessments:calendar_feeds")
        shows = (
            f"{feed.team.name} reviews" if feed.scope == "team" and feed.team else "your reviews"
        )
        return confirm_revoke(
            request,
            heading=f"Revoke the calendar feed of {shows}?",
            points=[
                "Calendars subscribed to it stop updating; its URL no longer works anywhere.",
                "It cannot be restored: create a new feed if one is needed again.",
            ],
            action=reverse("assessments:calendar_feed_revoke", args=[feed.pk]),
            button="Revoke the feed",
            cancel_url=reverse("assessments:calendar_feeds"),
            cancel_label="Keep it",
            crumb_url=reverse("assessments:calendar_feeds"),
            crumb_label="Calendar feeds",
        )
    try:
        actions.revoke_calendar_feed(request.user, feed, request=request)
    except actions.ActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The feed is revoked: its URL no longer works anywhere.")
    return redirect("assessments:calendar_feeds")


@require_GET
def calendar_feed(request: HtmxHttpRequest, token: str) -> HttpResponse:
    feed = ical.find_feed(token)
    if feed is None:
        raise Http404("No such calendar feed.")
    now = timezone.now()
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    body = ical.render_feed(feed, list(ical.feed_reviews(feed)), now=now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="reviews.ics"'
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
