"""Shared helpers for the API tests: tokens for personas and a JSON client."""

from __future__ import annotations

import json
import re
from typing import Any

from django.test import Client

from assessments import actions


def token_for(user: Any, scopes: tuple[str, ...] = ("read",), days: int = 30) -> str:
    _token, secret = actions.create_api_token(
        user, owner=user, name=f"test {'-'.join(scopes)}", scopes=list(scopes), expires_in_days=days
    )
    return secret


def assert_served_from_this_site(test: Any, html: str) -> None:
    """Every script, style, image and link of a page is on this site: no CDN, no other
    host. The addresses are read, not the whole page: a random CSRF token or nonce may
    spell "cdn"."""
    addresses = re.findall(r'(?:src|href)="([^"]*)"', html)
    test.assertTrue(addresses)
    for address in addresses:
        test.assertRegex(address, r"^(/(?!/)|#)", address)


class ApiClient:
    """Calls /api/v1/ with a bearer token, sending and reading JSON."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = "/api/v1" + path
        if query:
            from urllib.parse import urlencode

            url += "?" + urlencode(query)
        send = getattr(self.client, method)
        if body is None:
            return send(url, headers=self.headers)
        return send(url, json.dumps(body), content_type="application/json", headers=self.headers)

    def get(self, path: str, **query: Any) -> Any:
        return self.call("get", path, **query)

    def post(self, path: str, body: Any = None, **query: Any) -> Any:
        return self.call("post", path, {} if body is None else body, **query)

    def patch(self, path: str, body: Any, **query: Any) -> Any:
        return self.call("patch", path, body, **query)
