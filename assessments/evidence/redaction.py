"""Secrets inside ordinary values, found wherever they sit (issue 23, item 8).

``common.redact`` replaces values that are secrets as a whole (a field called
``password``, a token of a known shape). These are the shapes it missed, which hide
inside longer strings or across list items:

- a PEM private key inside any string (a JSON string with escaped newlines, a YAML
  block scalar, a key pasted into a note), the block replaced and the text around kept;
- a Slack incoming-webhook URL, whose path is the credential;
- an AWS secret access key in a command line (``--aws-secret-access-key K``,
  ``AWS_SECRET_ACCESS_KEY=K``, ``aws_secret_access_key = K``);
- password and token flags in arguments: ``--password=…``, ``--password …``,
  ``-p …`` / ``-pVALUE`` (MySQL's form), ``--token …``, ``--api-key=…``, ``--secret …``.

Pure: no Django. Each function returns the new value and how many secrets it replaced.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Hide = Callable[[str], str]

PEM_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
    r"(?:.|\\n)*?"
    r"(?:-----END \1-----|$)",
    re.DOTALL,
)
SLACK_WEBHOOK = re.compile(
    r"https://hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{8,}"
)
# An AWS secret access key given with its name: the name kept, the 40 characters hidden.
AWS_SECRET_NAMED = re.compile(
    r"(?P<name>aws[_-]?secret[_-]?access[_-]?key)(?P<sep>\s*[=:]\s*|\s+)"
    r"(?P<quote>['\"]?)(?P<value>[A-Za-z0-9/+=]{40})(?P=quote)",
    re.IGNORECASE,
)
# Flags whose value is a credential, within one string: "--password=x", "--token x".
CREDENTIAL_FLAGS = (
    r"--?(?:password|passwd|pass|pwd|token|api[-_]?key|secret|client[-_]?secret|"
    r"aws[-_]secret[-_]access[-_]key|access[-_]?token|auth[-_]?token)"
)
FLAG_WITH_VALUE = re.compile(
    rf"(?P<flag>(?<![\w-]){CREDENTIAL_FLAGS})(?P<sep>=|\s+)(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"']+)",
    re.IGNORECASE,
)
# MySQL's -pSECRET (no space), within one string; "-p" alone takes the next argument.
SHORT_P = re.compile(r"(?P<flag>(?<![\w-])-p)(?P<value>[^\s\"'-][^\s\"']*)")
FLAG_ALONE = re.compile(
    rf"^(?:{CREDENTIAL_FLAGS}|-p|aws_secret_access_key|aws_session_token)$", re.IGNORECASE
)
REFERENCE = re.compile(r"^\s*(\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{[^}]+\}\})\s*$")


def _is_reference(value: str) -> bool:
    """A reference to a secret kept elsewhere, or a value already redacted."""
    return value.startswith("[redacted") or bool(REFERENCE.match(value.strip("'\"")))


def scrub_text(text: str, hide: Hide) -> str:
    """``text`` with every secret inside it replaced by ``hide(secret)``."""
    if "PRIVATE KEY" in text:
        text = PEM_BLOCK.sub(lambda m: hide(m.group(0)), text)
    if "hooks.slack" in text:
        text = SLACK_WEBHOOK.sub(lambda m: hide(m.group(0)), text)
    text = AWS_SECRET_NAMED.sub(
        lambda m: m.group("name") + m.group("sep") + hide(m.group("value")), text
    )

    def flag(m: re.Match[str]) -> str:
        value = m.group("value")
        if _is_reference(value):
            return m.group(0)
        return m.group("flag") + m.group("sep") + hide(value)

    text = FLAG_WITH_VALUE.sub(flag, text)
    if " " in text or text.startswith("-p"):
        text = SHORT_P.sub(
            lambda m: (
                m.group(0)
                if _is_reference(m.group("value"))
                else m.group("flag") + hide(m.group("value"))
            ),
            text,
        )
    return text


def scrub_args(items: list[object], hide: Hide) -> list[object]:
    """An argument list with the value after a lone secret flag (``-p``, ``--password``,
    ``--aws-secret-access-key``) hidden; each string scrubbed as ``scrub_text`` does."""
    out: list[object] = []
    after_flag = False
    for item in items:
        if isinstance(item, str):
            if after_flag and item and not item.startswith("-") and not _is_reference(item):
                out.append(hide(item))
            else:
                out.append(scrub_text(item, hide))
            after_flag = bool(FLAG_ALONE.match(item.strip()))
        else:
            out.append(item)
            after_flag = False
    return out
