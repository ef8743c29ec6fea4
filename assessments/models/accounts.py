"""Accounts beyond Django's user: sessions, sign-in throttles, service accounts, API tokens, SCIM resources."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone

User = settings.AUTH_USER_MODEL


class UserSession(models.Model):
    """Which sessions belong to which user, so disabling an account can end them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Session of {self.user_id}"


class SignInThrottle(models.Model):
    """Sign-in attempts for one (username, address) pair: the lockout's counter and the
    rate limit on auditing failures. Updated only by conditional UPDATEs (throttle.py),
    so parallel attempts cannot slip past the limit."""

    key = models.CharField(max_length=200, unique=True)
    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(default=timezone.now, db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    unreported_failures = models.PositiveIntegerField(default=0)
    failures_reported_at = models.DateTimeField(null=True, blank=True)
    unreported_refusals = models.PositiveIntegerField(default=0)
    refusals_reported_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Sign-in attempts for {self.username} from {self.ip_address}"


class ServiceAccount(models.Model):
    """A named account for automation (CI, an identity platform, a CMDB sync).

    It is a user without a password (it cannot sign in to the web pages) that holds a
    role like a person; it reaches the API only through its tokens, which an
    administrator creates and revokes.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="service_account")
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"Service account {self.user_id}"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self, now: dt.datetime | None = None) -> ApiTokenQuerySet:
        """Not revoked and not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the prefix stays visible
    so a person can tell their tokens apart (and find one in a leaked log)."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        REVIEW = "review", "Review"
        # Provisioning of people and groups by the identity provider (/scim/v2/): held
        # only by an administrator's service account (assessments/scim/views.py).
        SCIM = "scim", "Directory provisioning (SCIM)"

    MARK = "aia_"
    PREFIX_LENGTH = 12  # "aia_" and the first eight characters of the secret
    MAX_DAYS = 365

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def is_usable(self, now: dt.datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())


class ScimResource(models.Model):
    """A person or a group as the identity provider provisioned it over SCIM 2.0
    (``assessments/scim/``): the resource as last written, so what the provider sent
    reads back the same, and the local account it drives (users only)."""

    class Type(models.TextChoices):
        USER = "User", "Person"
        GROUP = "Group", "Group"

    resource_type = models.CharField(max_length=16, choices=Type.choices)
    scim_id = models.CharField(max_length=64, unique=True)
    document = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    # userName, case-folded: unique among people (RFC 7643 §4.1.1, uniqueness "server");
    # NULL for groups, which the unique constraint must not compare.
    unique_key = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001
    user = models.OneToOneField(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scim_resource",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resource_type", "created_at", "pk"]
        verbose_name = "SCIM resource"
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "unique_key"], name="scim_unique_user_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.scim_id}"
