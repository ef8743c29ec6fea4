"""The address of the person behind a request, as far as the trusted proxies vouch for it.

Behind ``TRUSTED_PROXY_COUNT`` proxies that each append the address they saw to
``CLIENT_IP_HEADER`` (``X-Forwarded-For``), only the last ``TRUSTED_PROXY_COUNT``
entries were written by someone we trust: the left-most of those is what the outermost
proxy saw, i.e. the client. Anything further left was sent by the client and may be
made up. Values that are not IP addresses fall back to the peer address, never an error.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def parse_ip(value: str | None) -> str | None:
    """``value`` as a normalised IP address, or None when it is not one."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]  # an IPv6 zone id means nothing beyond this host
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    peer = parse_ip(request.META.get("REMOTE_ADDR"))
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if not header or proxies < 1:
        return peer
    entries = [part.strip() for part in str(request.META.get(header, "")).split(",")]
    entries = [part for part in entries if part]
    if not entries:
        return peer
    # Fewer entries than proxies: every entry came from a trusted proxy; take the outermost.
    vouched = entries[-proxies] if len(entries) >= proxies else entries[0]
    return parse_ip(vouched) or peer
