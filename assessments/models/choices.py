"""The choices the product's models share: roles, classes, tiers, access levels, credentials, environments."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    """Roles are auth groups; each role can do everything the roles before it can."""

    VIEWER = "viewer", "Viewer"
    ASSESSOR = "assessor", "Assessor"
    REVIEWER = "reviewer", "Reviewer"
    ADMINISTRATOR = "administrator", "Administrator"


class Classification(models.TextChoices):
    AGENT_IDENTITY = "agent_identity", "Agent identity"
    MACHINE_IDENTITY = "machine_identity", "Machine identity"


class Tier(models.IntegerChoices):
    BASELINE = 1, "1 · Baseline"
    ELEVATED = 2, "2 · Elevated"
    HIGH = 3, "3 · High"
    CRITICAL = 4, "4 · Critical"


class Access(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"


class CredentialModel(models.TextChoices):
    STATIC_SECRET = "static_secret", "Static secret"
    VAULTED_ROTATED = "vaulted_rotated", "Vaulted and rotated secret"
    WORKLOAD_IDENTITY = "workload_identity", "Workload identity (platform-issued, short-lived)"
    PER_TASK_TOKENS = "per_task_tokens", "Per-task tokens"
    USER_DELEGATED = "user_delegated", "User-delegated"


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    TEST = "test", "Test"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"
