from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from assessments.models import Agent
from assessments.roles import permission_required


@permission_required("assessments.view_agent")
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    agents = Agent.objects.active()
    context = {
        "agent_count": agents.count(),
    }
    return render(request, "assessments/dashboard.html", context)
