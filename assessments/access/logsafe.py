"""Secrets kept out of request logs.

A calendar feed is read by calendar programs that cannot send headers, so its token is
in the URL path (``/calendar/feed/<token>.ics``). Every line a server or Django writes
about a request passes :class:`HideSecrets`, which masks the token: gunicorn's access
and error logs, ``runserver``'s (``django.server``) and Django's request warnings
(``django.request``: "Not Found: /calendar/feed/…"). The filters sit on the loggers
(``install``, from ``AppConfig.ready``), so they hold whatever handlers and formats a
deployment configures.
"""

from __future__ import annotations

import logging
import re
from typing import Any

FEED_TOKEN = re.compile(r"(/calendar/feed/)[^/?#\s\"']+?(\.ics)")
MASK = r"\1[hidden]\2"
LOGGERS = ("django.server", "django.request", "gunicorn.access", "gunicorn.error")


def mask(text: str) -> str:
    """``text`` with any calendar feed token replaced by ``[hidden]``."""
    return FEED_TOKEN.sub(MASK, text) if "/calendar/feed/" in text else text


def _masked(value: Any) -> Any:
    return mask(value) if isinstance(value, str) else value


class HideSecrets(logging.Filter):
    """Masks feed tokens in a record's message and arguments (a tuple, or the mapping
    of atoms gunicorn's access log formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        args = record.args
        if isinstance(args, dict):
            for key, value in list(args.items()):
                if isinstance(value, str):
                    dict.__setitem__(args, key, mask(value))
        elif isinstance(args, tuple):
            record.args = tuple(_masked(a) for a in args)
        return True


def install() -> None:
    """Put the filter on every logger that writes request lines (once each)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideSecrets) for f in logger.filters):
            logger.addFilter(HideSecrets())
