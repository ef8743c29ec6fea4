from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from assessments.actions import AGENT_FIELDS
from assessments.models import (
    Access,
    Agent,
    AgentLink,
    EmailChoice,
    Environment,
    EvidenceKind,
    Team,
)

User = get_user_model()


class AgentForm(forms.ModelForm):
    environments = forms.MultipleChoiceField(
        choices=Environment.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Where it runs. Tick every environment it reaches.",
    )
    lock_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Agent
        fields = list(AGENT_FIELDS)
        widgets = {"purpose": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"name": "A name people in your organisation recognise."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        team = self.fields["team"]
        assert isinstance(owner, forms.ModelChoiceField)  # noqa: S101 (for the type checker)
        assert isinstance(team, forms.ModelChoiceField)  # noqa: S101
        owner.queryset = User.objects.filter(is_active=True).order_by("username")
        owner.label_from_instance = _user_label  # type: ignore[assignment,method-assign]
        team.queryset = Team.objects.order_by("name")
        self.fields["slug"].required = False
        self.fields["slug"].help_text += " Left empty, it is made from the name."
        if self.instance.pk:
            self.fields["lock_version"].initial = self.instance.lock_version

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or slugify(self.data.get(self.add_prefix("name"), ""))
        if not slug:
            raise ValidationError("Give the agent a slug (or a name to make one from).")
        clash = Agent.objects.filter(slug=slug).exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(
                f"“{slug}” is already used by another agent. Choose a different slug."
            )
        return slug

    def clean_environments(self) -> list[str]:
        chosen = self.cleaned_data.get("environments") or []
        return [value for value, _ in Environment.choices if value in chosen]


def _user_label(user: Any) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


class SystemForm(forms.Form):
    name = forms.CharField(max_length=120, label="System")
    access = forms.ChoiceField(choices=Access.choices, initial=Access.READ)

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


class _RowsFormSet(forms.BaseFormSet):
    """Rows added and removed in place; a removed row is skipped, not validated."""

    deletion_widget = forms.HiddenInput

    def _deleted(self, form: forms.Form) -> bool:
        return bool(self._should_delete_form(form))  # type: ignore[attr-defined]


class BaseSystemFormSet(_RowsFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: dict[str, int] = {}
        for index, form in enumerate(self.forms):
            if not form.has_changed() or self._deleted(form):
                continue
            key = form.cleaned_data["name"].lower()
            if key in seen:
                form.add_error("name", "This system is listed twice. Keep one row per system.")
            seen[key] = index

    def systems(self) -> list[dict[str, str]]:
        return [
            {"name": f.cleaned_data["name"], "access": f.cleaned_data["access"]}
            for f in self.forms
            if f.has_changed() and not self._deleted(f) and f.cleaned_data.get("name")
        ]


SystemFormSet: type[BaseSystemFormSet] = forms.formset_factory(  # type: ignore[assignment]
    SystemForm,
    formset=BaseSystemFormSet,
    extra=0,
    can_delete=True,
    max_num=200,
    validate_max=True,
)

LINK_KINDS = [
    ("orchestrates", "Orchestrates"),
    ("orchestrated_by", "Is orchestrated by"),
    ("peer", "Works as a peer with"),
]


class LinkForm(forms.Form):
    kind = forms.ChoiceField(choices=LINK_KINDS, label="Relationship")
    other = forms.CharField(
        max_length=100,
        label="Other agent (slug)",
        widget=forms.TextInput(attrs={"list": "agent-slugs", "autocomplete": "off"}),
    )

    def clean_other(self) -> str:
        return self.cleaned_data["other"].strip().lower()


class BaseLinkFormSet(_RowsFormSet):
    def __init__(self, *args: Any, agent: Agent | None = None, **kwargs: Any) -> None:
        self.agent = agent
        super().__init__(*args, **kwargs)

    def clean(self) -> None:
        if any(self.errors):
            return
        wanted = [
            f
            for f in self.forms
            if f.has_changed() and not self._deleted(f) and f.cleaned_data.get("other")
        ]
        slugs = {f.cleaned_data["other"] for f in wanted}
        found = dict(Agent.objects.filter(slug__in=slugs).values_list("slug", "pk"))
        seen: set[str] = set()
        own_slug = self.agent.slug if self.agent and self.agent.pk else None
        for form in wanted:
            slug = form.cleaned_data["other"]
            if slug == own_slug or (own_slug is None and slug == self.data.get("slug")):
                form.add_error("other", "An agent cannot be linked to itself.")
            elif slug not in found:
                form.add_error("other", f"No agent has the slug “{slug}”.")
            elif slug in seen:
                form.add_error("other", "This agent is linked twice. Keep one relationship.")
            seen.add(slug)

    def links(self) -> list[dict[str, str]]:
        return [
            {"kind": f.cleaned_data["kind"], "other": f.cleaned_data["other"]}
            for f in self.forms
            if f.has_changed() and not self._deleted(f) and f.cleaned_data.get("other")
        ]


LinkFormSet: type[BaseLinkFormSet] = forms.formset_factory(  # type: ignore[assignment]
    LinkForm, formset=BaseLinkFormSet, extra=0, can_delete=True, max_num=200, validate_max=True
)


def initial_systems(agent: Agent) -> list[dict[str, str]]:
    return [{"name": s.name, "access": s.access} for s in agent.systems.all()]


def initial_links(agent: Agent) -> list[dict[str, str]]:
    rows = []
    for link in agent.links_out.select_related("target"):
        kind = "peer" if link.kind == AgentLink.Kind.PEER else "orchestrates"
        rows.append({"kind": kind, "other": link.target.slug})
    for link in agent.links_in.select_related("source"):
        kind = "peer" if link.kind == AgentLink.Kind.PEER else "orchestrated_by"
        rows.append({"kind": kind, "other": link.source.slug})
    return sorted(rows, key=lambda r: r["other"])


class AgentFilterForm(forms.Form):
    """The list's query string. Anything unexpected is ignored, never a 500."""

    SORTS = [
        ("name", "Name"),
        ("-updated_at", "Recently changed"),
        ("next_review_on", "Next review"),
        ("-current_tier", "Tier (highest first)"),
        ("team__name", "Team"),
        ("waiting", "Waiting longest"),
    ]

    q = forms.CharField(required=False, max_length=100, label="Search")
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Active and retired"), *Agent.Status.choices],
        initial="active",
    )
    team = forms.ModelChoiceField(
        required=False,
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        empty_label="All teams",
    )
    classification = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any class"),
            ("agent_identity", "Agent identity"),
            ("machine_identity", "Machine identity"),
            ("unassessed", "Not yet assessed"),
        ],
        label="Class",
    )
    tier = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[
            ("", "Any tier"),
            (4, "4 · Critical"),
            (3, "3 · High"),
            (2, "2 · Elevated"),
            (1, "1 · Baseline"),
        ],
    )
    assessment = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any assessment state"),
            ("awaiting_decision", "Awaiting decision"),
            ("returned", "Returned"),
            ("draft", "In draft"),
            ("never_assessed", "Never assessed"),
            ("returned_to_me", "Returned to me"),
            ("my_drafts", "My drafts"),
        ],
        label="Assessment",
    )
    sort = forms.ChoiceField(required=False, choices=SORTS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("status", "team", "classification", "tier", "assessment", "sort"):
            self.fields[name].widget.attrs["class"] = "form-select"


class NotificationPreferenceForm(forms.Form):
    email = forms.ChoiceField(
        choices=EmailChoice.choices,
        widget=forms.RadioSelect,
        label="E-mail me about notifications",
        help_text="Submissions, decisions, exceptions running out and reviews due always "
        "appear on your notifications page; this only chooses the e-mail.",
    )


# --------------------------------------------------------------------------- evidence


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        one = super().clean
        if isinstance(data, list | tuple):
            return [one(item, initial) for item in data]
        return [one(data, initial)]


class EvidenceUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the files are",
        choices=[("", "Choose…"), *EvidenceKind.choices],
        help_text="AWS: the output of aws iam get-account-authorization-details, or policy "
        "documents. Kubernetes: Roles, ClusterRoles, bindings and ServiceAccounts (YAML or "
        "JSON). Google Cloud: gcloud projects get-iam-policy output and custom role "
        "definitions. MCP: a client's mcpServers configuration. Entra: the app's Microsoft "
        "Graph application permissions.",
    )
    principal = forms.CharField(
        label="Identity the files are about",
        required=False,
        max_length=500,
        help_text="AWS: the role or user ARN. Kubernetes: system:serviceaccount:NAMESPACE:NAME. "
        "Google Cloud: serviceAccount:EMAIL. Entra: the app's name or id (optional). "
        "MCP: leave empty.",
    )
    uploads = MultipleFileField(
        label="Files",
        help_text="One or more JSON or YAML files, each at most 20 MiB. They are stored with "
        "the agent and read as data only: nothing in them is run or fetched.",
    )


class ProposalDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why it is wrong",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why the proposal is wrong; a rejection needs a reason.")
        return data
