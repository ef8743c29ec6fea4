from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    from assessments.access.scope import OutOfTeam

    team_refusal = str(exception) if isinstance(exception, OutOfTeam) else ""
    return render(request, "403.html", {"team_refusal": team_refusal}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context: the failure may be in a context processor.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; send them to the real one."""
    return redirect(static("img/favicon.svg"))
