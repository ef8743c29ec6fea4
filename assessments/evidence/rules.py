"""Stable rule ids and the one sentence the UI shows for each.

A proposal names the rule that made it; the id never changes once released, so a
stored proposal can still be explained after the wording of its sentence improves.
"""

from __future__ import annotations

RULE_SENTENCES: dict[str, str] = {
    # AWS
    "aws.self_policy_write": (
        "The identity may write its own policies or trust policy, or join a group, so it "
        "can grant itself more access."
    ),
    "aws.policy_version_write": (
        "The identity may publish a new default version of a managed policy attached to it, "
        "so it can rewrite its own permissions."
    ),
    "aws.credential_creation": (
        "The identity may create access keys or console passwords for itself or another "
        "IAM user, so it can mint credentials it was not given."
    ),
    "aws.passrole_compute": (
        "The identity may pass a role to new compute (a function, an instance, a stack) that "
        "it creates, so it can act with that role's permissions."
    ),
    "aws.assume_role_chain": (
        "The identity may assume another role in the account that can itself widen its "
        "access, so it reaches the same power one step removed."
    ),
    "aws.remove_limit": (
        "The identity may remove what limits it (a policy with a Deny, or its permissions "
        "boundary), and what remains lets it do more: the steps show the path."
    ),
    "aws.compute_takeover": (
        "The identity may change code or configuration of compute that runs as a more "
        "privileged role, so it acts as that role: the steps show the path."
    ),
    "aws.instance_command": (
        "The identity may run commands on instances whose profile carries a more privileged "
        "role, so it acts as that role: the steps show the path."
    ),
    "aws.instance_profile_swap": (
        "The identity may put a more privileged role on an instance it reaches, so it acts "
        "as that role: the steps show the path."
    ),
    "aws.trusted_by_arn": (
        "A more privileged role trusts the identity by its ARN, so it may assume that role "
        "without any permission policy: the steps show the path."
    ),
    "aws.no_self_modification": (
        "The account file holds the identity's complete grant and none of it lets the "
        "identity change its own access."
    ),
    "aws.assume_several_roles": (
        "The identity may assume several roles (or any role matching a pattern), so it picks "
        "at run time which credentials it works with."
    ),
    "aws.session_policies": (
        "The identity may request federation tokens with a session policy of its choosing, so "
        "it sets the scope of its own credentials at run time."
    ),
    "aws.secret_read_broad": (
        "The identity may read any secret under a wildcard, so it chooses at run time which "
        "credentials to fetch."
    ),
    "aws.fixed_scopes": (
        "The account file holds the identity's complete grant and it can neither assume "
        "further roles nor read secrets by wildcard."
    ),
    "aws.iam_user_keys": (
        "The identity is an IAM user, which authenticates with long-lived access keys."
    ),
    "aws.assumed_role": (
        "The identity is an IAM role, used through short-lived credentials from AWS STS."
    ),
    "aws.role_shared": (
        "The role is attached to several instance profiles or trusted by several principals, "
        "so other workloads can use the same identity."
    ),
    "aws.role_single_use": (
        "The role has at most one instance profile and trusts a single principal, so no other "
        "workload in the file uses it."
    ),
    "aws.access_levels": (
        "Each AWS service the identity may call, at the strongest access level the IAM action "
        "list gives its allowed actions."
    ),
    # Kubernetes
    "k8s.escalate_bind_impersonate": (
        "The service account may escalate or bind roles, or impersonate other identities, so "
        "it can give itself more access."
    ),
    "k8s.rbac_wildcard": (
        "The service account may do anything with RBAC roles or bindings, so it can grant "
        "itself more access."
    ),
    "k8s.serviceaccount_token": (
        "The service account may create tokens for service accounts, so it can obtain other "
        "identities' credentials at run time."
    ),
    "k8s.workload_as_other_account": (
        "The service account may create or change pods or workload controllers where a pod "
        "can run as a more privileged service account, so it acts as that account: the "
        "steps show the path."
    ),
    "k8s.nodes_proxy": (
        "The service account may use the nodes' proxy (the kubelet API), which runs commands "
        "in any pod on a node as that pod's service account: the steps show the path."
    ),
    "k8s.no_self_modification": (
        "The files hold every role bound to the service account and none lets it change its "
        "own access."
    ),
    "k8s.fixed_scopes": (
        "The files hold every role bound to the service account and none lets it mint tokens "
        "for other service accounts."
    ),
    "k8s.service_account": (
        "The identity is a Kubernetes service account, whose tokens are issued and rotated by "
        "the cluster."
    ),
    "k8s.long_lived_token": (
        "A long-lived token secret exists for the service account, a static credential that "
        "does not expire."
    ),
    "k8s.shared_service_account": (
        "Several workloads in the files run as this service account, or its bindings grant the "
        "same role to other subjects."
    ),
    "k8s.access_levels": (
        "Each Kubernetes resource the service account may use, at the strongest level its "
        "verbs give (get/list/watch read, create/update/patch/delete write, RBAC or * admin)."
    ),
    # GCP
    "gcp.dangerous_role": (
        "The service account holds a predefined role that can change IAM policy or mint "
        "credentials, so it can widen its own access."
    ),
    "gcp.custom_role_permission": (
        "A custom role the service account holds includes a permission that changes IAM "
        "policy or mints credentials, so it can widen its own access."
    ),
    "gcp.act_as_deploy": (
        "The service account may act as other service accounts and deploy code, so code it "
        "deploys runs as a more privileged account: the steps show the path."
    ),
    "gcp.no_self_modification": (
        "Every role the service account holds is known and none lets it change IAM policy or "
        "mint credentials."
    ),
    "gcp.token_creator": (
        "The service account may obtain access tokens for other service accounts, so it picks "
        "at run time which identity it works as."
    ),
    "gcp.fixed_scopes": (
        "Every role the service account holds is known and none lets it obtain other service "
        "accounts' tokens."
    ),
    "gcp.service_account_key": (
        "A user-managed key exists for the service account, a long-lived static credential."
    ),
    "gcp.service_account": (
        "The identity is a Google Cloud service account with no user-managed key in the files."
    ),
    "gcp.shared_binding": (
        "A role binding that grants this service account also grants other service accounts, "
        "so the same grant serves several workloads."
    ),
    "gcp.access_levels": (
        "Each Google Cloud service the account may use, at the strongest level its roles and "
        "permissions give."
    ),
    # MCP
    "mcp.remote_server": (
        "The client connects to an MCP server by URL on a host outside the organisation, so "
        "the agent calls external services over the internet."
    ),
    "mcp.several_servers": (
        "The client configures several MCP servers, so the model chooses among their tools."
    ),
    "mcp.inline_secret": (
        "A token, key or password is written directly into an MCP server's environment or "
        "headers, a static secret."
    ),
    "mcp.secret_placeholder": (
        "An MCP server's token or key is a placeholder where a long-lived secret is put, a "
        "static secret (not one leaked in the file)."
    ),
    "mcp.oauth": (
        "A remote MCP server declares OAuth and no static header, so a person grants the "
        "client a token: user-delegated credentials."
    ),
    # Entra
    "entra.self_grant_permission": (
        "The application holds a Microsoft Graph permission that lets it assign roles or "
        "permissions or add credentials to applications, so it can widen its own access."
    ),
    "entra.no_self_grant": (
        "None of the application's Microsoft Graph permissions lets it assign roles or "
        "permissions or change applications."
    ),
    "entra.access_levels": (
        "Each Microsoft Graph resource the application may use, at the level of its "
        "permission (Read read, ReadWrite write, role and application management admin)."
    ),
}


def sentence(rule: str) -> str:
    """The sentence for a rule id; an unknown id is shown as itself, never hidden."""
    return RULE_SENTENCES.get(rule, rule)
