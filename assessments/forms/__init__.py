"""Forms shared by the pages and the API: the inventory's (agents, systems, links, the
CSV import), fields and helpers other forms build on (``BoundedDateField``,
``team_field``), the review queue's and calendar feeds' (``reviews``), the board pack's
(``reports``) and the discovered identities' filter (``discovery``).

May import: the models, the actions' field lists and the areas below the pages; never
the views or the API (both import from here).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Lower
from django.utils.text import slugify

from assessments import portfolio
from assessments.access import scope
from assessments.access.roles import has_role
from assessments.actions import AGENT_FIELDS
from assessments.models import (
    Access,
    Agent,
    AgentLink,
    Assessment,
    EmailChoice,
    Environment,
    EvidenceKind,
    Team,
)
from assessments.widgets import quick_select

User = get_user_model()

# Dates people can mean: outside this range a date is a typo or a probe, and date
# arithmetic near year 1 or 9999 overflows.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


class BoundedDateField(forms.DateField):
    """A date between EARLIEST_DATE and LATEST_DATE, so periods around it can be computed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.DateInput(attrs={"type": "date", "min": "1900-01-01"}, format="%Y-%m-%d"),
        )
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> dt.date | None:
        date = super().to_python(value)
        if date is not None and not EARLIEST_DATE <= date <= LATEST_DATE:
            raise ValidationError(
                f"Choose a date between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}.", code="range"
            )
        return date


def slug_from_name(name: str) -> str:
    """A slug made from a name: accents are dropped ("Café" gives "cafe"); a letter with no
    plain a-to-z spelling ("ø", "ß", "東") is refused rather than silently left out."""
    if INVISIBLE.search(name):
        raise ValidationError("A slug is not made from a name with invisible characters.")
    decomposed = unicodedata.normalize("NFKD", name)
    unspellable = sorted(
        {c for c in decomposed if not c.isascii() and c.isalnum() and not unicodedata.combining(c)}
    )
    if unspellable:
        raise ValidationError(
            f"A slug cannot be made from the name: it has letters with no plain a-to-z "
            f"spelling ({' '.join(unspellable[:5])}). Type a slug with lowercase letters, "
            "numbers and hyphens."
        )
    return slugify(name)


def team_field(
    form: forms.BaseForm, teams: Any = None, name: str = "team"
) -> forms.ModelChoiceField:
    """The form's team choice, offering ``teams`` only when given (scope.py's teams a
    person may edit or read)."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 (for the type checker)
    if teams is not None:
        field.queryset = teams.order_by("name")
    return field


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

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)  # noqa: S101 (for the type checker)
        owner.queryset = User.objects.filter(is_active=True).order_by("username")
        owner.label_from_instance = _user_label  # type: ignore[assignment,method-assign]
        # With team-scoped editing, people create agents in and move them to their own
        # teams only (scope.py); the actions refuse anything else too.
        team = team_field(
            self, scope.editable_teams(user) if user is not None else Team.objects.all()
        )
        if user is not None and scope.editing_scoped() and not scope.all_teams(user):
            team.help_text = "Agents of your teams only: you edit only your teams' agents."
            team.error_messages["invalid_choice"] = (
                "Choose one of your teams: you create and edit only your teams' agents."
            )
            if len(scope.team_ids(user)) == 1 and not self.instance.pk:
                team.initial = next(iter(scope.team_ids(user)))  # their one team
            if not scope.team_ids(user):
                team.help_text = (
                    "You belong to no team yet, so you cannot register agents. "
                    "Ask an administrator to add you to your team."
                )
        self.fields["slug"].required = False
        self.fields["slug"].help_text += " Left empty, it is made from the name."
        if self.instance.pk:
            self.fields["lock_version"].initial = self.instance.lock_version

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or ""
        if slug and slug != slug.lower():
            raise ValidationError(
                f"Slugs are lowercase, so that links to them always find them: "
                f"use “{slugify(slug)}” instead of “{slug}”."
            )
        if not slug:
            slug = slug_from_name(self.data.get(self.add_prefix("name"), ""))
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

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        refuse_invisible(name)
        return name


def _user_label(user: Any) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


class SystemForm(forms.Form):
    name = forms.CharField(max_length=120, label="System")
    access = forms.ChoiceField(choices=Access.choices, initial=Access.READ)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        refuse_invisible(name)
        return name


# Bidirectional controls (a name that reads "admin" but is not) and zero-width
# characters (two names that look the same): never in a name.
INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")


def refuse_invisible(value: str) -> None:
    if found := INVISIBLE.search(value):
        raise ValidationError(
            f"The name holds an invisible character (U+{ord(found.group()):04X}), a direction "
            "control or a zero-width one, which would make it read as something else. "
            "Type it again without it."
        )


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
        return self.cleaned_data["other"].strip()


class BaseLinkFormSet(_RowsFormSet):
    def __init__(
        self, *args: Any, agent: Agent | None = None, user: Any = None, **kwargs: Any
    ) -> None:
        self.agent = agent
        # With reading team-scoped, an agent ``user`` may not read is "not found", the
        # same words as for a slug nobody has (no enumeration of other teams' agents).
        self.user = user
        super().__init__(*args, **kwargs)

    def _agents(self) -> Any:
        agents = Agent.objects.all()
        return scope.readable(agents, self.user) if self.user is not None else agents

    def clean(self) -> None:
        if any(self.errors):
            return
        wanted = [
            f
            for f in self.forms
            if f.has_changed() and not self._deleted(f) and f.cleaned_data.get("other")
        ]
        slugs = {f.cleaned_data["other"] for f in wanted}
        # The slug as typed first; otherwise the one agent whose slug differs only in case
        # (slugs made before they had to be lowercase), linked under its own slug.
        exact = set(self._agents().filter(slug__in=slugs).values_list("slug", flat=True))
        folded: dict[str, list[str]] = {}
        for other in (
            self._agents()
            .annotate(lower_slug=Lower("slug"))
            .filter(lower_slug__in={s.lower() for s in slugs - exact})
            .values_list("slug", flat=True)
        ):
            folded.setdefault(other.lower(), []).append(other)
        found = {s: s for s in exact} | {
            s: folded[s.lower()][0] for s in slugs - exact if len(folded.get(s.lower(), [])) == 1
        }
        seen: set[str] = set()
        own_slug = self.agent.slug if self.agent and self.agent.pk else None
        new_slug = str(self.data.get("slug") or "")
        for form in wanted:
            typed = form.cleaned_data["other"]
            slug = found.get(typed, typed)
            if slug == own_slug or (own_slug is None and slug == new_slug):
                form.add_error("other", "An agent cannot be linked to itself.")
            elif typed not in found:
                form.add_error("other", f"No agent has the slug “{typed}”.")
            elif slug in seen:
                form.add_error("other", "This agent is linked twice. Keep one relationship.")
            else:
                form.cleaned_data["other"] = slug
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
            ("unassessed", portfolio.UNASSESSED_LABEL),
        ],
        label="Class",
    )
    assessment = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any assessment state"),
            *((key, portfolio.ASSESSMENT_STATE_LABELS[key]) for key in portfolio.STATE_FILTERS),
            ("returned_to_me", "Returned to me"),
            ("my_drafts", "My drafts"),
        ],
        label="Assessment",
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
    sort = forms.ChoiceField(required=False, choices=SORTS)

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is not None and not scope.reads_all(user):
            team_field(self, scope.readable_teams(user))
        for name in ("status", "team", "classification", "tier", "assessment", "sort"):
            quick_select(self.fields[name], **{"class": "form-select"})

    def apply(self, agents: Any, user: Any = None) -> tuple[Any, str]:
        """``agents`` filtered and ordered as the query string asks, and the sort key (the
        agent list page and the API share this). An invalid form filters nothing.
        ``user`` is whose "returned to me" and "my drafts" are meant, and whose teams
        limit the agents when reading is team-scoped (``scope.readable``)."""
        sort = "name"
        if user is not None:
            agents = scope.readable(agents, user)
        if self.is_valid():
            f = self.cleaned_data
            agents = agents.search(f["q"])
            if f["status"]:
                agents = agents.filter(status=f["status"])
            if f["team"]:
                agents = agents.filter(team=f["team"])
            if f["classification"] == "unassessed":
                agents = agents.filter(current_classification="")
            elif f["classification"]:
                agents = agents.filter(current_classification=f["classification"])
            if f["tier"]:
                agents = agents.filter(current_tier=f["tier"])
            agents = _in_assessment_state(agents, f["assessment"], user)
            # Submitted work is a queue: the one waiting longest comes first.
            sort = f["sort"] or ("waiting" if f["assessment"] == "pending_decision" else "name")
        if sort == "waiting":
            since = (
                Assessment.objects.open()
                .filter(agent=OuterRef("pk"))
                .values(since=Coalesce("submitted_at", "created_at"))[:1]
            )
            agents = agents.annotate(waiting_since=Subquery(since))
            return agents.order_by(F("waiting_since").asc(nulls_last=True), "name", "pk"), sort
        # "Next review" is the open review's due date (AgentQuerySet.with_next_review).
        if sort == "next_review_on":
            return agents.by_next_review(), sort
        return agents.order_by(sort, "name", "pk"), sort


def _in_assessment_state(agents: Any, state: str, user: Any) -> Any:
    """Agents whose assessment is in ``state`` (the list's "Assessment" filter): the
    portfolio's states (``portfolio.filter_assessment_state``), or the person's own."""
    if state in ("returned_to_me", "my_drafts") and user is None:
        return agents.none()
    match state:
        case "returned_to_me":
            return agents.with_assessment_in(Assessment.objects.returned_to(user))
        case "my_drafts":
            return agents.with_assessment_in(Assessment.objects.drafts_of(user))
        case "pending_decision" if user is not None and has_role(user, "reviewer"):
            # What the reviewer's "Awaiting decision" badge counts: the agents they may
            # decide for (their teams when editing is team-scoped).
            agents = scope.decidable(agents, user)
    return portfolio.filter_assessment_state(agents, state) if state else agents


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
        help_text="AWS: the output of aws iam get-account-authorization-details, policy "
        "documents, a CloudFormation template (JSON or YAML) or a Terraform plan (terraform "
        "show -json). Kubernetes: Roles, ClusterRoles, bindings and ServiceAccounts (YAML or "
        "JSON). Google Cloud: gcloud projects get-iam-policy output and custom role "
        "definitions. MCP: a client's configuration (mcpServers, or VS Code's servers). Entra: the app's Microsoft "
        "Graph application permissions.",
    )
    principal = forms.CharField(
        label="Identity the files are about",
        required=False,
        max_length=500,
        help_text="AWS: the role or user ARN (for a CloudFormation template or Terraform plan, "
        "the role's logical name or resource address works too). Kubernetes: "
        "system:serviceaccount:NAMESPACE:NAME. Google Cloud: serviceAccount:EMAIL. Entra: the "
        "app's name or id (optional). MCP: leave empty.",
    )
    namespace = forms.CharField(
        label="Namespace (Kubernetes)",
        required=False,
        max_length=253,
        help_text="Where manifests without a namespace are applied (a kustomize base, "
        "namespace-install.yaml). Leave empty to read them in the identity's own namespace.",
    )
    uploads = MultipleFileField(
        label="Files",
        help_text="One or more JSON or YAML files, each at most 20 MiB, 80 MiB in all. They are stored with "
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


def bound_agent_forms(
    data: dict[str, Any], agent: Agent | None, user: Any = None
) -> tuple[AgentForm, Any, Any, list[tuple[str, str]]]:
    """The agent form with its systems and links rows, bound to plain data (the API and
    the CSV import use the site's own checks this way). ``data`` has the agent fields
    with ``owner`` and ``team`` as objects (or None when not found), ``systems`` as
    [{name, access}] and ``links`` as [{kind, other}]. Returns the forms and the errors
    as (field, message), field dotted like ``systems.0.name``."""
    errors: list[tuple[str, str]] = []
    owner, team = data.get("owner"), data.get("team")
    form_data: dict[str, Any] = {
        "name": data.get("name") or "",
        "slug": data.get("slug") or "",
        "purpose": data.get("purpose") or "",
        "owner": str(owner.pk) if owner is not None else "",
        "team": str(team.pk) if team is not None else "",
        "environments": list(data.get("environments") or []),
        "platform": data.get("platform") or "",
        "credential_model": data.get("credential_model") or "",
        "systems-TOTAL_FORMS": str(len(data.get("systems") or [])),
        "systems-INITIAL_FORMS": "0",
        "links-TOTAL_FORMS": str(len(data.get("links") or [])),
        "links-INITIAL_FORMS": "0",
    }
    for i, row in enumerate(data.get("systems") or []):
        # A row missing a key is left for the row's form to name, never a KeyError.
        form_data[f"systems-{i}-name"] = row.get("name") or ""
        form_data[f"systems-{i}-access"] = row.get("access") or ""
    for i, row in enumerate(data.get("links") or []):
        form_data[f"links-{i}-kind"] = row.get("kind") or ""
        form_data[f"links-{i}-other"] = row.get("other") or ""
    form = AgentForm(form_data, instance=agent or Agent())
    systems = SystemFormSet(form_data, prefix="systems")
    links = LinkFormSet(form_data, prefix="links", agent=agent, user=user)
    if not (form.is_valid() & systems.is_valid() & links.is_valid()):
        errors += [
            (name if name != "__all__" else "", str(m))
            for name, messages in form.errors.items()
            for m in messages
        ]
        for kind, formset in (("systems", systems), ("links", links)):
            row_errors: dict[str, Any]
            for i, row_errors in enumerate(formset.errors):  # type: ignore[assignment]
                for name, messages in row_errors.items():
                    errors += [(f"{kind}.{i}.{name}", str(m)) for m in messages]
            errors += [(kind, str(m)) for m in formset.non_form_errors()]
    return form, systems, links, errors
