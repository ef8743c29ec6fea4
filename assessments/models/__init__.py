"""The data the product holds (see ../shared/product.md), one module per area.

State changes never happen here: they are named functions in ``assessments/actions/``
that write an audit event in the same transaction. Read filters are QuerySet methods.
Callers import from the package (``from assessments.models import Agent``); the
modules below are listed in the order they build on each other.
"""

# ruff: noqa: I001 (the modules are imported in the order they build on each other)

from .choices import (
    Role,
    Classification,
    Tier,
    Access,
    CredentialModel,
    Environment,
)
from .base import (
    PORTFOLIO_QUIET_FIELDS,
    portfolio_changed,
    PortfolioQuerySet,
    ImmutableRecordError,
    AppendOnlyQuerySet,
)
from .inventory import (
    Team,
    AgentQuerySet,
    Agent,
    AgentOwner,
    System,
    AgentLink,
)
from .catalogue import (
    CatalogueVersion,
    Framework,
    FrameworkItem,
    Control,
    ControlMapping,
    ReferenceNote,
    ReviewInterval,
    review_intervals,
)
from .records import (
    AuditEventQuerySet,
    AuditEvent,
    AuditCheckpointQuerySet,
    AuditCheckpoint,
)
from .assessments import (
    AssessmentQuerySet,
    Assessment,
    ExceptionQuerySet,
    GapException,
)
from .reviews import (
    ReviewQuerySet,
    Review,
)
from .portfolio import (
    PortfolioSnapshot,
    ApprovedGap,
    AppetiteBand,
)
from .notifications import (
    ReminderLog,
    EmailChoice,
    NotificationPreference,
    NotificationQuerySet,
    Notification,
    CalendarFeed,
)
from .reports import (
    ReportRecord,
    BoardPackJob,
)
from .accounts import (
    UserSession,
    SignInThrottle,
    ServiceAccount,
    ApiTokenQuerySet,
    ApiToken,
    ScimResource,
)
from .evidence import (
    EvidenceKind,
    EvidenceUploadQuerySet,
    EvidenceUpload,
    EvidenceJob,
    EvidenceFile,
    EvidenceProposalQuerySet,
    EvidenceProposal,
)
from .webhooks import (
    WebhookEndpoint,
    WebhookDelivery,
)
from .discovery import (
    DiscoveryRun,
    DiscoveryFile,
    IDENTITY_PRESENT,
    IDENTITY_AGENT_LIKE,
    IDENTITY_LINKED,
    IDENTITY_SHADOW,
    IDENTITY_MACHINE,
    IDENTITY_DECOMMISSION_PENDING,
    DiscoveredIdentityQuerySet,
    DiscoveredIdentity,
)
from .certification import (
    CertificationCampaign,
    CertificationItemQuerySet,
    CertificationItem,
)

__all__ = [
    "Access",
    "Agent",
    "AgentLink",
    "AgentOwner",
    "AgentQuerySet",
    "ApiToken",
    "ApiTokenQuerySet",
    "AppendOnlyQuerySet",
    "AppetiteBand",
    "ApprovedGap",
    "Assessment",
    "AssessmentQuerySet",
    "AuditCheckpoint",
    "AuditCheckpointQuerySet",
    "AuditEvent",
    "AuditEventQuerySet",
    "BoardPackJob",
    "CalendarFeed",
    "CatalogueVersion",
    "CertificationCampaign",
    "CertificationItem",
    "CertificationItemQuerySet",
    "Classification",
    "Control",
    "ControlMapping",
    "CredentialModel",
    "DiscoveredIdentity",
    "DiscoveredIdentityQuerySet",
    "DiscoveryFile",
    "DiscoveryRun",
    "EmailChoice",
    "Environment",
    "EvidenceFile",
    "EvidenceJob",
    "EvidenceKind",
    "EvidenceProposal",
    "EvidenceProposalQuerySet",
    "EvidenceUpload",
    "EvidenceUploadQuerySet",
    "ExceptionQuerySet",
    "Framework",
    "FrameworkItem",
    "GapException",
    "IDENTITY_AGENT_LIKE",
    "IDENTITY_DECOMMISSION_PENDING",
    "IDENTITY_LINKED",
    "IDENTITY_MACHINE",
    "IDENTITY_PRESENT",
    "IDENTITY_SHADOW",
    "ImmutableRecordError",
    "Notification",
    "NotificationPreference",
    "NotificationQuerySet",
    "PORTFOLIO_QUIET_FIELDS",
    "PortfolioQuerySet",
    "PortfolioSnapshot",
    "ReferenceNote",
    "ReminderLog",
    "ReportRecord",
    "Review",
    "ReviewInterval",
    "ReviewQuerySet",
    "Role",
    "ScimResource",
    "ServiceAccount",
    "SignInThrottle",
    "System",
    "Team",
    "Tier",
    "UserSession",
    "WebhookDelivery",
    "WebhookEndpoint",
    "portfolio_changed",
    "review_intervals",
]
