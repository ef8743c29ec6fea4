"""SCIM 2.0 provisioning of people and groups by the identity provider, at ``/scim/v2/``.

The protocol (RFC 7643 and 7644: validation, filters, PATCH, ETags, discovery) is
scim2-server's; this package gives it what only the product knows:

- ``storage``: ``DatabaseStorage``, the resources kept in ``ScimResource`` rows.
- ``directory``: what a provisioned resource means here. A User resource drives a local
  account (name, e-mail, active); the Group resources a person belongs to give them
  their role and teams by the rule a single sign-on uses (``OIDC_ROLE_MAP``,
  ``OIDC_TEAM_PREFIX``: ``sso.apply_directory_groups``). Deactivating a person (active
  false, or the resource deleted) disables the account, ends its sessions and revokes
  its tokens; every change is an audit event.
- ``views``: the one Django view, authenticated by an API token with the ``scim`` scope
  that belongs to an administrator's service account.

It may import models, audit, sso and the actions; nothing imports it but the URLs.
"""
