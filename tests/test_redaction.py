"""Secrets inside ordinary values are redacted before evidence is stored (issue 23,
item 8), in the formats they really come in:

- Slack incoming-webhook URLs, in the form Slack's documentation gives
  (https://api.slack.com/messaging/webhooks: ``https://hooks.slack.com/services/T…/B…/…``);
- an AWS secret access key (AWS's documented example key,
  ``wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY``) as ``aws configure set`` and the CLI's
  options take it, and as an environment assignment in a shell command;
- MySQL's ``--password=…``, ``-p…`` and ``-p …``, and ``--token``/``--api-key`` flags;
- a PEM private key (made here with ``cryptography``) in a JSON string, in a JSON string
  nested in a string (escaped newlines), and in a YAML block scalar.
"""

from __future__ import annotations

import json

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import SimpleTestCase

from assessments import evidence
from assessments.evidence import redaction

SLACK = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PASSWORD = "S3cr3t-Passw0rd"


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def stored(name: str, data: bytes, kind: str = "mcp") -> tuple[bytes, int]:
    parsed = evidence.parse_bytes(name, data)
    kept, count = evidence.stored_bytes(kind, parsed, data)
    evidence.parse_bytes(name, kept)  # still a readable document
    return kept, count


class RealFormatTests(SimpleTestCase):
    def test_a_slack_webhook_url_in_an_mcp_servers_args(self):
        config = {
            "mcpServers": {
                "notify": {
                    "command": "npx",
                    "args": ["-y", "slack-notifier", "--webhook", SLACK],
                },
                "docs": {"url": f"see {SLACK} for alerts"},
            }
        }
        kept, count = stored("mcp.json", json.dumps(config).encode())
        self.assertNotIn(b"XXXXXXXXXXXXXXXXXXXXXXXX", kept)
        self.assertNotIn(b"hooks.slack.com/services", kept)
        self.assertEqual(count, 2)
        self.assertIn(b"slack-notifier", kept)
        self.assertIn(b"see [redacted", kept)

    def test_an_aws_secret_access_key_in_arguments(self):
        config = {
            "mcpServers": {
                "aws": {
                    "command": "aws",
                    "args": ["configure", "set", "aws_secret_access_key", AWS_SECRET],
                },
                "aws-cli": {
                    "command": "aws-mcp",
                    "args": ["--region", "eu-west-1", "--aws-secret-access-key", AWS_SECRET],
                },
                "shell": {
                    "command": "sh",
                    "args": ["-c", f"AWS_SECRET_ACCESS_KEY={AWS_SECRET} aws s3 ls"],
                },
            }
        }
        kept, count = stored("mcp.json", json.dumps(config).encode())
        self.assertNotIn(AWS_SECRET.encode(), kept)
        self.assertEqual(count, 3)
        self.assertIn(b"eu-west-1", kept)
        self.assertIn(b"AWS_SECRET_ACCESS_KEY=[redacted", kept)
        self.assertIn(b"aws s3 ls", kept)

    def test_password_flags_in_their_three_forms(self):
        config = {
            "mcpServers": {
                "a": {"command": "mysql", "args": ["-u", "root", f"--password={PASSWORD}"]},
                "b": {"command": "mysql", "args": ["-u", "root", f"-p{PASSWORD}", "shop"]},
                "c": {"command": "mysql", "args": ["-u", "root", "-p", PASSWORD, "shop"]},
                "d": {"command": "sh", "args": ["-c", f"psql --password {PASSWORD} -d x"]},
                "e": {
                    "command": "tool",
                    "args": ["--api-key=abcd1234efgh5678", "--token", "tkn-0123456789"],
                },
                "f": {"command": "mysql", "args": ["--password=${DB_PASSWORD}"]},
            }
        }
        kept, count = stored("mcp.json", json.dumps(config).encode())
        for leaked in (PASSWORD, "abcd1234efgh5678", "tkn-0123456789"):
            self.assertNotIn(leaked.encode(), kept)
        self.assertEqual(count, 6)
        self.assertIn(b"--password=[redacted", kept)
        self.assertIn(b"${DB_PASSWORD}", kept)  # a reference to the secret, kept
        self.assertIn(b"shop", kept)

    def test_a_pem_key_inside_an_ordinary_json_string_and_one_nested_json_escaped(self):
        pem = _pem()
        nested = json.dumps({"type": "service_account", "private_key": pem})
        config = {
            "mcpServers": {
                "gcp": {
                    "command": "gcp-mcp",
                    "args": ["--credentials-json", nested],
                    "description": f"Key pasted for now:\n{pem}\nrotate soon",
                }
            }
        }
        data = json.dumps(config).encode()
        self.assertIn(b"\\\\n", data)  # the nested key's newlines are escaped twice
        kept, count = stored("mcp.json", data)
        body = pem.splitlines()[1].encode()
        self.assertNotIn(body, kept)
        self.assertNotIn(b"BEGIN PRIVATE KEY", kept)
        self.assertEqual(count, 2)
        self.assertIn(b"rotate soon", kept)
        self.assertIn(b"service_account", kept)

    def test_a_pem_key_in_a_yaml_block_scalar(self):
        pem = _pem()
        config_map = (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tls\ndata:\n"
            "  tls.key: |\n" + "".join(f"    {line}\n" for line in pem.splitlines())
        )
        self.assertEqual(yaml.safe_load(config_map)["data"]["tls.key"], pem)
        kept, count = stored("tls.yaml", config_map.encode(), kind="kubernetes")
        self.assertEqual(count, 1)
        self.assertNotIn(pem.splitlines()[1].encode(), kept)
        self.assertIn(b"ConfigMap", kept)

    def test_ordinary_values_are_left_alone(self):
        config = {
            "mcpServers": {
                "fs": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"],
                },
                "web": {"url": "https://hooks.example.com/services/a/b/c", "note": "my-plan"},
            }
        }
        data = json.dumps(config).encode()
        self.assertEqual(stored("mcp.json", data), (data, 0))

    def test_the_module_replaces_only_the_secret_inside_a_string(self):
        hidden: list[str] = []

        def hide(value: str) -> str:
            hidden.append(value)
            return "[x]"

        text = redaction.scrub_text(f"mysql -uroot -p{PASSWORD} --token=${{T}} db", hide)
        self.assertEqual(text, "mysql -uroot -p[x] --token=${T} db")
        self.assertEqual(hidden, [PASSWORD])
