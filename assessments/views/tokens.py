"""API tokens: people create and revoke their own; administrators create service
accounts and manage their tokens. A new token's secret is shown once, on the page the
creation redirects to; only its hash is stored."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from assessments import actions
from assessments.access.roles import has_role, permission_required
from assessments.models import ApiToken, Role, ServiceAccount
from assessments.views.common import HtmxHttpRequest, confirm_revoke

User = get_user_model()
_JUST_CREATED = "new_api_token"
EXPIRY_CHOICES = [
    (7, "7 days"),
    (30, "30 days"),
    (90, "90 days"),
    (180, "180 days"),
    (365, "1 year"),
]
SCOPE_HELP = {
    "read": "Read: list and read agents, assessments, the queue, reports and the catalogue.",
    "write": "Write: register and change agents, fill in and submit assessments, push "
    "manifests, request board packs.",
    "review": "Review: approve and return assessments, assign reviews.",
    "scim": "Directory provisioning (SCIM): the identity provider creates, changes and "
    "deactivates people and groups (a service account's token only).",
}


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=120, help_text="Where it is used, e.g. “CI pipeline of the payments repo”."
    )
    owner = forms.ChoiceField(label="For", initial="me")
    scopes = forms.MultipleChoiceField(
        choices=[(s, SCOPE_HELP[s]) for s in ApiToken.Scope.values],
        widget=forms.CheckboxSelectMultiple,
        initial=["read"],
        help_text="A token can never do more than its account's role allows.",
    )
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, initial=90, label="Expires after"
    )

    def __init__(
        self, *args: Any, accounts: list[Any], allowed: tuple[str, ...], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Only the scopes the person's role allows are offered (a service account's
        # narrower role is checked when the token is made).
        scopes = cast(forms.MultipleChoiceField, self.fields["scopes"])
        scopes.choices = [(s, SCOPE_HELP[s]) for s in ApiToken.Scope.values if s in allowed]
        scopes.error_messages["invalid_choice"] = (
            "The %(value)s scope is beyond what this account's role can do "
            f"({', '.join(allowed) or 'nothing'})."
        )
        self.accounts = {str(a.user_id): a.user for a in accounts}
        cast(forms.ChoiceField, self.fields["owner"]).choices = [
            ("me", "Me"),
            *[(str(a.user_id), f"Service account {a.user.username}") for a in accounts],
        ]
        for name in ("name",):
            self.fields[name].widget.attrs["class"] = "form-control"
        for name in ("owner", "expires_in_days"):
            self.fields[name].widget.attrs["class"] = "form-select"

    def owner_user(self, me: Any) -> Any:
        value = self.cleaned_data["owner"]
        return me if value == "me" else self.accounts[value]


class ServiceAccountForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        label="Name",
        help_text="Letters, digits and @ . + - _, e.g. ci-payments.",
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.ASSESSOR,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    description = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"class": "form-control"}),
        help_text="What it automates and who looks after it.",
    )


def _accounts(user: Any) -> list[ServiceAccount]:
    if not has_role(user, Role.ADMINISTRATOR):
        return []
    return list(ServiceAccount.objects.select_related("user").order_by("user__username"))


def _page(request: HtmxHttpRequest, *, status: int = 200, **forms_: Any) -> HttpResponse:
    accounts = _accounts(request.user)
    owners: list[int] = [request.user.pk or 0, *[a.user_id for a in accounts]]
    tokens = list(
        ApiToken.objects.filter(user_id__in=owners)
        .select_related("user")
        .order_by("revoked_at", "-created_at")
    )
    context = {
        "form": forms_.get("form")
        or ApiTokenForm(accounts=accounts, allowed=actions.allowed_scopes(request.user)),
        "account_form": forms_.get("account_form") or ServiceAccountForm(),
        "mine": [t for t in tokens if t.user_id == request.user.pk],
        "accounts": [(a, [t for t in tokens if t.user_id == a.user_id]) for a in accounts],
        "is_admin": has_role(request.user, Role.ADMINISTRATOR),
        "new_token": request.session.pop(_JUST_CREATED, None),
        "allowed_scopes": actions.allowed_scopes(request.user),
    }
    return render(request, "assessments/api_tokens.html", context, status=status)


@permission_required("assessments.view_agent")
def api_tokens(request: HtmxHttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    form = ApiTokenForm(
        request.POST,
        accounts=_accounts(request.user),
        allowed=actions.allowed_scopes(request.user),
    )
    if form.is_valid():
        try:
            token, secret = actions.create_api_token(
                request.user,
                owner=form.owner_user(request.user),
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_in_days=form.cleaned_data["expires_in_days"],
                request=request,
            )
        except actions.ActionError as error:
            form.add_error(None, str(error))
        else:
            request.session[_JUST_CREATED] = {"id": token.pk, "name": token.name, "secret": secret}
            return redirect("assessments:api_tokens")
    return _page(request, form=form, status=422)


@permission_required("assessments.view_agent")
@require_http_methods(["GET", "POST"])
def api_token_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (a page without JavaScript, the app's dialog with it);
    POST revokes."""
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    if not actions.can_manage_tokens_of(request.user, token.user):
        # Someone else's token: as far as this person knows, it does not exist.
        raise Http404("No such token.")
    if request.method == "GET":
        if not token.is_usable():
            messages.info(request, f"The token “{token.name}” no longer works; nothing to revoke.")
            return redirect("assessments:api_tokens")
        owner = "" if token.user_id == request.user.pk else f" of {token.user.get_username()}"
        return confirm_revoke(
            request,
            heading=f"Revoke the token “{token.name}”{owner}?",
            points=[
                "Scripts and pipelines that send it stop working at once.",
                "It cannot be restored: create a new token if one is needed again.",
            ],
            action=reverse("assessments:api_token_revoke", args=[token.pk]),
            button="Revoke the token",
            cancel_url=reverse("assessments:api_tokens"),
            cancel_label="Keep it",
            crumb_url=reverse("assessments:api_tokens"),
            crumb_label="API tokens",
        )
    try:
        actions.revoke_api_token(request.user, token, request=request)
    except actions.ActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The token “{token.name}” was revoked; it no longer works.")
    return redirect("assessments:api_tokens")


@permission_required("auth.add_user")
@require_POST
def service_account_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ServiceAccountForm(request.POST)
    if form.is_valid():
        try:
            account = actions.create_service_account(
                request.user,
                username=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                description=form.cleaned_data["description"],
                request=request,
            )
        except actions.ActionError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                f"Service account {account.user.username} was created. Create a token for it "
                "below.",
            )
            return redirect("assessments:api_tokens")
    return _page(request, account_form=form, status=422)
