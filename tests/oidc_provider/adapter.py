"""The provider's claims: allauth's, plus ``groups`` (the provider user's Django groups),
as a directory would send them."""

from typing import Any

from allauth.idp.oidc.adapter import DefaultOIDCAdapter


class GroupsAdapter(DefaultOIDCAdapter):
    def get_claims(self, purpose: str, user: Any, client: Any, scopes: Any, **kw: Any) -> dict:
        claims = super().get_claims(purpose, user, client, scopes, **kw)
        if "profile" in scopes:
            claims["groups"] = sorted(user.groups.values_list("name", flat=True))
        return claims
