"""Demo data: people, teams and a realistic portfolio spanning the seed's cases.

Each agent carries the questionnaire answers its owner would give; ``load_demo``
turns them into assessments in various states. Systems and links live in the
inventory, so the answers here leave them out.

The package also makes large portfolios for benchmarks and load tests (``bulk``).

May import: the models, the engine and the actions (it seeds through them).
"""

from __future__ import annotations

from typing import Any

DEMO_PASSWORD = "demo-password"  # noqa: S105 (published demo sign-ins)

# username, first, last, email, role
SIGN_INS = [
    ("assessor", "Priya", "Natarajan", "priya.natarajan@example.com", "assessor"),
    ("reviewer", "Marcus", "Chen", "marcus.chen@example.com", "reviewer"),
    ("viewer", "Grace", "Okafor", "grace.okafor@example.com", "viewer"),
    ("admin", "Sam", "Adeyemi", "sam.adeyemi@example.com", "administrator"),
]
# Agent owners who do not sign in to the demo (no usable password).
OWNERS = [
    ("dana.kowalski", "Dana", "Kowalski", "dana.kowalski@example.com"),
    ("li.wei", "Li", "Wei", "li.wei@example.com"),
    ("omar.haddad", "Omar", "Haddad", "omar.haddad@example.com"),
    ("sofia.rossi", "Sofia", "Rossi", "sofia.rossi@example.com"),
]
# Reviewers who decide in the demo's history but do not sign in (no usable password):
# with the "reviewer" sign-in, three reviewers share the teams' decisions.
REVIEWERS = [
    ("aisha.bello", "Aisha", "Bello", "aisha.bello@example.com"),
    ("tomas.novak", "Tomás", "Novák", "tomas.novak@example.com"),
]
TEAMS = [
    ("finance-platform", "Finance Platform"),
    ("customer-support", "Customer Support"),
    ("security-operations", "Security Operations"),
    ("platform-engineering", "Platform Engineering"),
    ("research-insights", "Research & Insights"),
    ("people-operations", "People Operations"),
]

# Who belongs to which teams (what TEAM_SCOPED_EDITING and TEAM_SCOPED_READING go by);
# the administrator acts for every team without belonging to one.
MEMBERSHIPS = {
    "assessor": ["finance-platform", "customer-support", "platform-engineering"],
    "reviewer": [
        "finance-platform",
        "platform-engineering",
        "security-operations",
        "research-insights",
    ],
    "viewer": ["finance-platform", "research-insights"],
    "aisha.bello": ["customer-support", "people-operations", "research-insights"],
    "tomas.novak": ["platform-engineering", "security-operations"],
    "dana.kowalski": ["finance-platform", "platform-engineering"],
    "li.wei": ["research-insights", "people-operations"],
    "omar.haddad": ["platform-engineering", "security-operations"],
    "sofia.rossi": ["customer-support"],
}

# The demo's past (``load_demo`` replays it at these dates, counted back from today).
# Who decides for each team: one of its reviewers.
DECIDERS = {
    "finance-platform": "reviewer",
    "platform-engineering": "tomas.novak",
    "security-operations": "tomas.novak",
    "customer-support": "aisha.bello",
    "people-operations": "aisha.bello",
    "research-insights": "aisha.bello",
}
# Earlier approved versions: (days ago approved, days its exception ran or None). The
# version after each closes the review the earlier one scheduled; an exception that ran
# out before then reopened its gap and triggered the review.
EARLIER = {
    "hr-policy-copilot": [(300, None)],
    "incident-triage-planner": [(330, 120)],
    "platform-ops-assistant": [(250, 90)],
    "research-orchestrator": [(320, None)],
    "report-writer-agent": [(290, None)],
    "payments-approval-agent": [(210, None)],
    "support-ticket-summariser": [(340, None)],
}
# Versions returned once before they were approved: (days ago returned, comment).
RETURNED_FIRST = {
    "sales-email-copilot": (
        158,
        "Say who approves the drafts before they go out, and how the mailbox token is scoped.",
    ),
    "payments-approval-agent": (
        31,
        "The approval limit is not in the answers: add it, and who can change it.",
    ),
    "phishing-report-sorter": (
        196,
        "Record where its quarantine actions are logged before this is approved.",
    ),
}
# Board packs were made at the end of each quarter (days ago).
BOARD_PACKS_DAYS_AGO = (273, 182, 91)
# The daily job (expired exceptions, reminders) is replayed once a week.
DAILY_JOB_EVERY_DAYS = 7
# Notifications older than this were read at the time; newer ones are still unread.
READ_AFTER_DAYS = 10

_TRACED_ALL = {
    "traced_identity": "all",
    "traced_policy_decision": "all",
    "traced_audit_record": "all",
}
_TRACED_SOME = {
    "traced_identity": "all",
    "traced_policy_decision": "some",
    "traced_audit_record": "some",
}
_SCRIPT = {
    "decision_mode": "fixed_script",
    "tool_selection": "fixed",
    "crosses_environments": False,
    "calls_external_apis": False,
    "decides_own_scopes": False,
    "alters_own_access": False,
    "shared_platform_role": False,
    "delegated_approval": False,
    "network_reach": "allowlisted",
    "orchestration": "standalone",
    "hybrid_pipeline": False,
    "planned_changes": [],
}

# state: how load_demo leaves its assessments (approved, approved+exception, draft,
# submitted, returned, none).
AGENTS: list[dict[str, Any]] = [
    {
        "slug": "nightly-invoice-export",
        "name": "Nightly invoice export",
        "purpose": "Exports the day's approved supplier invoices from the ERP to the bank's SFTP drop at 01:00.",
        "owner": "dana.kowalski",
        "team": "finance-platform",
        "platform": "Kubernetes CronJob",
        "environments": ["production"],
        "credential_model": "vaulted_rotated",
        "systems": [("erp", "read"), ("bank-sftp-drop", "write")],
        "answers": {
            **_SCRIPT,
            "credential_model": "vaulted_rotated",
            "human_approval": "none",
            **_TRACED_ALL,
            "access_review": "quarterly",
            "kill_switch": True,
        },
        "state": "approved",
        "approved_days_ago": 200,
    },
    {
        "slug": "backup-rotation",
        "name": "Backup rotation script",
        "purpose": "Rotates database snapshots and prunes those older than 35 days.",
        "owner": "omar.haddad",
        "team": "platform-engineering",
        "platform": "AWS Lambda",
        "environments": ["production"],
        "credential_model": "workload_identity",
        "systems": [("snapshot-store", "write")],
        "answers": {
            **_SCRIPT,
            "credential_model": "workload_identity",
            "human_approval": "none",
            **_TRACED_ALL,
            "access_review": "annual",
            "kill_switch": True,
        },
        "state": "approved",
        "approved_days_ago": 350,
    },
    {
        "slug": "support-ticket-summariser",
        "name": "Support ticket summariser",
        "purpose": "Summarises long support threads with an LLM and posts the summary to the ticket. Code decides every step.",
        "owner": "sofia.rossi",
        "team": "customer-support",
        "platform": "Azure Functions",
        "environments": ["staging", "production"],
        "credential_model": "vaulted_rotated",
        "systems": [("zendesk", "write"), ("llm-gateway", "read")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "model_assisted",
            "hybrid_pipeline": True,
            "model_steps_self_direct": False,
            "credential_model": "vaulted_rotated",
            "human_approval": "none",
            **_TRACED_ALL,
            "access_review": "annual",
        },
        "state": "approved",
        "approved_days_ago": 170,
    },
    {
        "slug": "hr-policy-copilot",
        "name": "HR policy copilot",
        "purpose": "Answers employees' questions about HR policy from the policy library. Read-only today; the team plans to let it file leave requests.",
        "owner": "li.wei",
        "team": "people-operations",
        "platform": "Microsoft Copilot Studio",
        "environments": ["production"],
        "credential_model": "user_delegated",
        "systems": [("policy-library", "read")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "model_assisted",
            "credential_model": "user_delegated",
            "human_approval": "every_action",
            "network_reach": "internal_broad",
            **_TRACED_SOME,
            "planned_changes": ["write_access", "tool_chaining"],
        },
        "state": "approved",
        "approved_days_ago": 40,
    },
    {
        "slug": "sales-email-copilot",
        "name": "Sales e-mail copilot",
        "purpose": "Drafts replies to prospects, choosing between the CRM and the pricing sheet for facts.",
        "owner": "sofia.rossi",
        "team": "customer-support",
        "platform": "Internal LLM platform",
        "environments": ["production"],
        "credential_model": "user_delegated",
        "systems": [("crm", "read"), ("pricing-sheet", "read")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "context_driven",
            "tool_selection": "chooses_from_allowlist",
            "credential_model": "user_delegated",
            "human_approval": "every_action",
            **_TRACED_ALL,
            "policy_enforcement": "policy_as_code",
            "kill_switch": True,
        },
        "state": "approved",
        "approved_days_ago": 150,
    },
    {
        "slug": "incident-triage-planner",
        "name": "Incident triage planner",
        "purpose": "Plans and runs first-response steps for alerts: gathers logs, scales deployments, pages the on-call.",
        "owner": "omar.haddad",
        "team": "security-operations",
        "platform": "Kubernetes",
        "environments": ["production"],
        "credential_model": "workload_identity",
        "systems": [("pagerduty", "write"), ("kubernetes-prod", "write"), ("datadog", "read")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "planner_executor",
            "tool_selection": "chooses_from_allowlist",
            "credential_model": "workload_identity",
            "human_approval": "high_impact_only",
            "network_reach": "internal_broad",
            **_TRACED_SOME,
            "policy_enforcement": "policy_as_code",
            "kill_switch": True,
        },
        "state": "approved_with_exception",
        "approved_days_ago": 80,
        # Expires within 30 days: the dashboard lists it, and the gap re-opens after.
        "exception_days": 21,
    },
    {
        "slug": "code-migration-agent",
        "name": "Code migration agent",
        "purpose": "Opens pull requests that migrate services to the new logging library, deciding which files to change and running the tests.",
        "owner": "omar.haddad",
        "team": "platform-engineering",
        "platform": "GitHub Actions",
        "environments": ["development", "test"],
        "credential_model": "per_task_tokens",
        "systems": [("github", "write"), ("ci-runners", "write"), ("package-registry", "read")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "planner_executor",
            "tool_selection": "chooses_from_allowlist",
            "calls_external_apis": True,
            "credential_model": "per_task_tokens",
            "decides_own_scopes": True,
            "human_approval": "high_impact_only",
            "network_reach": "internet",
            **_TRACED_ALL,
            "policy_enforcement": "intent_aware",
            "kill_switch": True,
        },
        "state": "draft",
    },
    {
        "slug": "research-orchestrator",
        "name": "Market research orchestrator",
        "purpose": "Breaks research questions into tasks and hands them to the web research and report writer agents.",
        "owner": "li.wei",
        "team": "research-insights",
        "platform": "LangGraph on Kubernetes",
        "environments": ["production"],
        "credential_model": "workload_identity",
        "systems": [("task-queue", "write")],
        "links": [("orchestrates", "web-research-agent"), ("orchestrates", "report-writer-agent")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "planner_executor",
            "tool_selection": "chooses_from_allowlist",
            "credential_model": "workload_identity",
            "human_approval": "high_impact_only",
            "orchestration": "orchestrates_agents",
            **_TRACED_ALL,
            "kill_switch": True,
            "policy_enforcement": "policy_as_code",
        },
        "state": "approved",
        "approved_days_ago": 35,
    },
    {
        "slug": "web-research-agent",
        "name": "Web research agent",
        "purpose": "Searches the public web and summarises sources for the research orchestrator.",
        "owner": "li.wei",
        "team": "research-insights",
        "platform": "LangGraph on Kubernetes",
        "environments": ["production"],
        "credential_model": "workload_identity",
        "systems": [("search-api", "read"), ("research-notes", "write")],
        "links": [("orchestrated_by", "research-orchestrator")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "context_driven",
            "tool_selection": "chooses_from_allowlist",
            "calls_external_apis": True,
            "credential_model": "workload_identity",
            "human_approval": "none",
            "network_reach": "internet",
            "orchestration": "orchestrated_by_agent",
            **_TRACED_ALL,
        },
        "state": "submitted",
    },
    {
        "slug": "report-writer-agent",
        "name": "Report writer agent",
        "purpose": "Turns research notes into a client-ready report and publishes it to the wiki.",
        "owner": "li.wei",
        "team": "research-insights",
        "platform": "LangGraph on Kubernetes",
        "environments": ["production"],
        "credential_model": "workload_identity",
        "systems": [("research-notes", "read"), ("wiki", "admin")],
        "links": [("orchestrated_by", "research-orchestrator")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "model_assisted",
            "credential_model": "workload_identity",
            "human_approval": "high_impact_only",
            "orchestration": "orchestrated_by_agent",
            **_TRACED_ALL,
            "access_review": "quarterly",
            "admin_sessions_brokered": False,
        },
        "state": "approved",
        "approved_days_ago": 100,
    },
    {
        "slug": "cloud-provisioning-bot",
        "name": "Cloud provisioning bot",
        "purpose": "Creates project accounts on request. It can attach IAM roles to itself when a request needs a service it was not enrolled in.",
        "owner": "omar.haddad",
        "team": "platform-engineering",
        "platform": "AWS",
        "environments": ["production"],
        "credential_model": "static_secret",
        "systems": [("aws-organizations", "admin"), ("iam", "admin"), ("service-catalog", "write")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "planner_executor",
            "tool_selection": "chooses_from_allowlist",
            "crosses_environments": True,
            "credential_model": "static_secret",
            "decides_own_scopes": True,
            "alters_own_access": True,
            "human_approval": "high_impact_only",
            "network_reach": "internal_broad",
            **_TRACED_SOME,
            "kill_switch": False,
        },
        "state": "returned",
    },
    {
        "slug": "platform-ops-assistant",
        "name": "Platform ops assistant",
        "purpose": "Chat assistant for the platform team that discovers new MCP tools at runtime and runs them under the shared platform role.",
        "owner": "dana.kowalski",
        "team": "platform-engineering",
        "platform": "Internal MCP gateway",
        "environments": ["staging", "production"],
        "credential_model": "vaulted_rotated",
        "systems": [
            ("kubernetes-prod", "admin"),
            ("terraform-state", "write"),
            ("grafana", "read"),
        ],
        "answers": {
            **_SCRIPT,
            "decision_mode": "context_driven",
            "tool_selection": "discovers_dynamically",
            "credential_model": "vaulted_rotated",
            "shared_platform_role": True,
            "human_approval": "none",
            "network_reach": "internal_broad",
            "traced_identity": "some",
            "traced_policy_decision": "none",
            "traced_audit_record": "some",
            "planned_changes": ["new_systems"],
        },
        "state": "approved_with_exception",
        "approved_days_ago": 45,
    },
    {
        "slug": "payments-approval-agent",
        "name": "Payments approval agent",
        "purpose": "Approves supplier payments under 5,000 EUR on behalf of the finance controllers.",
        "owner": "dana.kowalski",
        "team": "finance-platform",
        "platform": "Internal LLM platform",
        "environments": ["production"],
        "credential_model": "workload_identity",
        "systems": [("bank-api", "admin"), ("erp", "write")],
        "links": [("peer", "invoice-triage")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "context_driven",
            "credential_model": "workload_identity",
            "delegated_approval": True,
            "human_approval": "none",
            "orchestration": "peer_mesh",
            **_TRACED_ALL,
            "policy_enforcement": "intent_aware",
            "kill_switch": True,
        },
        "state": "approved",
        "approved_days_ago": 25,
    },
    {
        "slug": "invoice-triage",
        "name": "Invoice triage assistant",
        "purpose": "Reads supplier invoices and routes them for payment.",
        "owner": "dana.kowalski",
        "team": "finance-platform",
        "platform": "Internal LLM platform",
        "environments": ["production"],
        "credential_model": "workload_identity",
        "systems": [("erp", "write"), ("document-store", "read")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "context_driven",
            "tool_selection": "chooses_from_allowlist",
            "credential_model": "workload_identity",
            "human_approval": "high_impact_only",
            "orchestration": "peer_mesh",
            "traced_identity": "all",
            "traced_policy_decision": "some",
            "traced_audit_record": "all",
            "planned_changes": ["tool_chaining"],
        },
        "state": "none",
    },
    {
        "slug": "phishing-report-sorter",
        "name": "Phishing report sorter",
        "purpose": "Classifies e-mails users report as phishing with a model and files them in the right queue.",
        "owner": "omar.haddad",
        "team": "security-operations",
        "platform": "Azure Functions",
        "environments": ["production"],
        "credential_model": "static_secret",
        "systems": [("mail-gateway", "read"), ("soc-queue", "write")],
        "answers": {
            **_SCRIPT,
            "decision_mode": "model_assisted",
            "credential_model": "static_secret",
            "human_approval": "none",
            **_TRACED_SOME,
        },
        "state": "approved",
        "approved_days_ago": 190,
    },
]
