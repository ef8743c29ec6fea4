"""MCP client configurations: which servers an agent reaches and with what secrets.

Only the configuration is read: no server is started, no command run, no URL fetched
and no host name resolved. A host counts as inside the organisation when it is a
loopback, private or link-local address, ends in ``.local`` or ``.internal``, or is
(a subdomain of) one of the configured internal domains.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from .common import Evidence, EvidenceError, EvidenceFile, Proposals, is_secret


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


def servers(files: Sequence[EvidenceFile]) -> list[tuple[str, dict[str, Any], str, str]]:
    found = []
    for file in files:
        for document in file.documents:
            if not isinstance(document, dict):
                raise EvidenceError(file.name, "an MCP configuration is an object with mcpServers")
            key = "mcpServers" if "mcpServers" in document else "servers"
            entries = document.get(key)
            if not isinstance(entries, dict):
                raise EvidenceError(
                    file.name, 'no "mcpServers" object: not an MCP client configuration'
                )
            for name, server in entries.items():
                if not isinstance(server, dict):
                    raise EvidenceError(file.name, f"{key}.{name} is not an object")
                found.append((str(name), server, file.name, f"{key}.{name}"))
    return found


def analyse(files: Sequence[EvidenceFile], internal_domains: Iterable[str] = ()) -> tuple[Any, ...]:
    domains = tuple(internal_domains)
    found = servers(files)
    remote: list[Evidence] = []
    secrets: list[Evidence] = []
    for name, server, file, where in found:
        url = server.get("url") or server.get("serverUrl")
        if isinstance(url, str) and url:
            parsed = urllib.parse.urlsplit(url)
            host = parsed.hostname or ""
            if not is_internal(host, domains):
                remote.append(
                    Evidence(
                        file,
                        f"{where}.url",
                        f"server {name} is reached at {host}, outside the organisation",
                    )
                )
        for field in ("env", "headers"):
            values = server.get(field)
            if not isinstance(values, dict):
                continue
            for var, value in values.items():
                if is_secret(str(var), value):
                    secrets.append(
                        Evidence(
                            file,
                            f"{where}.{field}.{var}",
                            f"server {name}: {field} {var} holds a literal secret "
                            f"({len(str(value))} characters, not shown)",
                        )
                    )
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
        out.add("credential_model", "static_secret", "mcp.inline_secret", secrets)
    return out.result()
