"""MCP client configurations: which servers an agent reaches and with what secrets.

Configurations in the forms clients write them (``mcpServers``, VS Code's ``servers``
and ``"mcp": {"servers"}``, a bare ``{NAME: {...}}``); a local server that only proxies a
remote one (``npx mcp-remote https://…``) counts as reached at that URL. A placeholder
(``<YOUR_TOKEN>``, ``${GITHUB_TOKEN}``, ``Bearer YOUR_PAT``) is where a long-lived secret
is put: a static secret, never reported as leaked. A remote server that declares OAuth
(or whose protected-resource metadata is among the files) with no static header is
user-delegated.

Only the configuration is read: no server is started, no command run, no URL fetched
and no host name resolved. A host counts as inside the organisation when it is a
loopback, private or link-local address, ends in ``.local`` or ``.internal``, or is
(a subdomain of) one of the configured internal domains.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from .common import (
    SECRET_NAME,
    Evidence,
    EvidenceError,
    EvidenceFile,
    Proposals,
    as_list,
    is_placeholder,
    is_secret,
)


def is_internal(host: str, internal_domains: Iterable[str]) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return address.is_loopback or address.is_private or address.is_link_local
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    for domain in internal_domains:
        domain = domain.strip().lstrip(".").rstrip(".").lower()
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


# Keys under which clients keep their servers: Claude, Cursor and most (mcpServers),
# VS Code's .vscode/mcp.json (servers), VS Code's settings.json ("mcp": {"servers"}).
SERVER_KEYS = ("mcpServers", "servers", "mcp_servers", "context_servers")
SERVER_FIELDS = ("command", "url", "serverUrl", "httpUrl", "type", "transport")
URL_ARG = re.compile(r"^https?://", re.IGNORECASE)


def _entries(document: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for key in SERVER_KEYS:
        if isinstance(document.get(key), dict):
            return key, document[key]
    nested = document.get("mcp")
    if isinstance(nested, dict) and isinstance(nested.get("servers"), dict):
        return "mcp.servers", nested["servers"]
    # A bare {NAME: {command | url …}} object.
    if document and all(
        isinstance(v, dict) and any(f in v for f in SERVER_FIELDS) for v in document.values()
    ):
        return "", document
    return None


def servers(files: Sequence[EvidenceFile]) -> list[tuple[str, dict[str, Any], str, str]]:
    found = []
    for file in files:
        for document in file.documents:
            if isinstance(document, dict) and _is_resource_metadata(document):
                continue
            if not isinstance(document, dict):
                raise EvidenceError(file.name, "an MCP configuration is an object with mcpServers")
            located = _entries(document)
            if located is None:
                raise EvidenceError(
                    file.name,
                    'no "mcpServers" (or "servers") object: not an MCP client configuration',
                )
            key, entries = located
            for name, server in entries.items():
                here = f"{key}.{name}" if key else str(name)
                if not isinstance(server, dict):
                    raise EvidenceError(file.name, f"{here} is not an object")
                found.append((str(name), server, file.name, here))
    return found


def _is_resource_metadata(document: dict[str, Any]) -> bool:
    """OAuth protected-resource metadata (RFC 9728), as an MCP server publishes it."""
    return isinstance(document.get("resource"), str) and isinstance(
        document.get("authorization_servers"), list
    )


def _oauth_hosts(files: Sequence[EvidenceFile]) -> dict[str, Evidence]:
    hosts = {}
    for file in files:
        for document in file.documents:
            if isinstance(document, dict) and _is_resource_metadata(document):
                host = (urllib.parse.urlsplit(document["resource"]).hostname or "").lower()
                servers_text = ", ".join(str(a) for a in document["authorization_servers"])
                hosts[host] = Evidence(
                    file.name,
                    "authorization_servers",
                    f"{document['resource']} declares OAuth authorisation servers "
                    f"({servers_text}) in its protected-resource metadata",
                )
    return hosts


def _declares_oauth(server: dict[str, Any]) -> str | None:
    oauth = server.get("oauth")
    if oauth is True or (isinstance(oauth, dict) and oauth.get("enabled", True) is not False):
        return "oauth"
    auth = server.get("auth") or server.get("authorization") or server.get("authentication")
    if isinstance(auth, str) and "oauth" in auth.lower():
        return "auth"
    if isinstance(auth, dict) and "oauth" in str(auth.get("type", "")).lower():
        return "auth"
    if isinstance(server.get("authProviderType"), str):
        return "authProviderType"
    return None


def _url(server: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(url, field, proxy) for a remote server, or a local one that only proxies one
    (``npx mcp-remote https://…``: an http(s) URL among its arguments)."""
    for field in ("url", "serverUrl", "httpUrl"):
        url = server.get(field)
        if isinstance(url, str) and url:
            return url, field, None
    args = server.get("args")
    if isinstance(server.get("command"), str) and isinstance(args, list):
        for index, arg in enumerate(args):
            if isinstance(arg, str) and URL_ARG.match(arg.strip()):
                proxy = next(
                    (a for a in args if isinstance(a, str) and not a.startswith("-")),
                    server["command"],
                )
                return arg.strip(), f"args[{index}]", f"{server['command']} {proxy}".strip()
    return None


def analyse(files: Sequence[EvidenceFile], internal_domains: Iterable[str] = ()) -> tuple[Any, ...]:
    domains = tuple(internal_domains)
    found = servers(files)
    oauth_hosts = _oauth_hosts(files)
    remote: list[Evidence] = []
    secrets: list[Evidence] = []
    placeholders: list[Evidence] = []
    delegated: list[Evidence] = []
    for name, server, file, where in found:
        located = _url(server)
        host = ""
        if located:
            url, field, proxy = located
            host = (urllib.parse.urlsplit(url).hostname or "").lower()
            if not is_internal(host, domains):
                via = f" through {proxy}, a local proxy" if proxy else ""
                remote.append(
                    Evidence(
                        file,
                        f"{where}.{field}",
                        f"server {name} is reached at {host}{via}, outside the organisation",
                    )
                )
        static_here = False
        for field in ("env", "headers"):
            values = server.get(field)
            if not isinstance(values, dict):
                continue
            for var, value in values.items():
                if is_secret(str(var), value):
                    static_here = True
                    secrets.append(
                        Evidence(
                            file,
                            f"{where}.{field}.{var}",
                            f"server {name}: {field} {var} holds a literal secret "
                            f"({len(str(value))} characters, not shown)",
                        )
                    )
                elif (
                    SECRET_NAME.search(str(var)) or str(var).lower() == "authorization"
                ) and is_placeholder(value):
                    static_here = True
                    placeholders.append(
                        Evidence(
                            file,
                            f"{where}.{field}.{var}",
                            f"server {name}: {field} {var} is a placeholder ({value}) where a "
                            "long-lived secret is put",
                        )
                    )
        for index, arg in enumerate(as_list(server.get("args"))):
            # --header "Authorization: Bearer ${TOKEN}" (mcp-remote and friends)
            if isinstance(arg, str) and arg.lower().startswith("authorization:"):
                value = arg.split(":", 1)[1].strip()
                static_here = True
                if is_placeholder(value):
                    placeholders.append(
                        Evidence(
                            file,
                            f"{where}.args[{index}]",
                            f"server {name}: an Authorization header placeholder ({value}) "
                            "where a long-lived secret is put",
                        )
                    )
                else:
                    secrets.append(
                        Evidence(
                            file,
                            f"{where}.args[{index}]",
                            f"server {name}: an Authorization header holds a literal secret "
                            f"({len(value)} characters, not shown)",
                        )
                    )
        declared = _declares_oauth(server)
        if located and not static_here:
            if declared:
                delegated.append(
                    Evidence(
                        file,
                        f"{where}.{declared}",
                        f"server {name} declares OAuth and no static header: a person grants "
                        "the client a token",
                    )
                )
            elif host in oauth_hosts:
                delegated.append(oauth_hosts[host])
    out = Proposals()
    if remote:
        out.add("network_reach", "internet", "mcp.remote_server", remote)
        out.add("calls_external_apis", True, "mcp.remote_server", remote)
    if len(found) >= 2:
        out.add(
            "tool_selection",
            "chooses_from_allowlist",
            "mcp.several_servers",
            [Evidence(file, where, f"server {name}") for name, _, file, where in found],
        )
    if secrets:
        out.add("credential_model", "static_secret", "mcp.inline_secret", secrets + placeholders)
    if placeholders:
        out.add("credential_model", "static_secret", "mcp.secret_placeholder", placeholders)
    if delegated:
        out.add("credential_model", "user_delegated", "mcp.oauth", delegated)
    return out.result()
