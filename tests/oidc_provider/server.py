"""Start and drive the test OpenID provider from a test: a temporary directory with its
database and signing key, ``runserver`` on a free 127.0.0.1 port, and the directory
commands (people, groups, the relying party's client)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpenIDProvider:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="aia-oidc-"))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (self.dir / "signing-key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
            "OIDC_PROVIDER_DIR": str(self.dir),
            "PYTHONPATH": str(ROOT),
            # oauthlib refuses plain HTTP unless told; the test runs on loopback only.
            "OAUTHLIB_INSECURE_TRANSPORT": "1",
        }
        self.env.pop("DATABASE_URL", None)
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def _run(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 (our own interpreter and module)
            [sys.executable, *args], env=self.env, cwd=ROOT, check=True, capture_output=True
        )

    def start(self) -> None:
        self._run("-m", "django", "migrate", "-v0")
        self.log = open(self.dir / "server.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(  # noqa: S310
                    f"{self.issuer}/.well-known/openid-configuration", timeout=2
                ) as response:
                    if response.status == 200:
                        return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the test OpenID provider did not start:\n{self.server_log()}")

    def server_log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def person(self, username: str, password: str, groups: list[str], active: bool = True) -> None:
        """Create or change a person in the provider's directory."""
        flags = [] if active else ["--inactive"]
        self._run("-m", "tests.oidc_provider.directory", "user", username, password,
                  ",".join(groups), *flags)  # fmt: skip

    def client(self, client_id: str, secret: str, redirect_uri: str) -> None:
        self._run("-m", "tests.oidc_provider.directory", "client", client_id, secret, redirect_uri)
