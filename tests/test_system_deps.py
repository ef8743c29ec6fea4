"""scripts/system-deps: what `make test` and .ci/run do on a machine that lacks Chromium,
poppler-utils or Pango. apt-get, dpkg-query, id and sudo are stubs on PATH."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "system-deps"


class SystemDepsTests(SimpleTestCase):
    def setUp(self):
        self.bin = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.bin)
        self.log = self.bin / "calls.log"
        # Everything is installed except chromium.
        self.stub(
            "dpkg-query",
            'for pkg; do :; done; [ "$pkg" = chromium ] && exit 1; printf "install ok installed"',
        )
        self.stub("apt-get", f'echo "apt-get $*" >> {self.log}')
        for tool in ("sh", "echo", "printf", "grep", "ldconfig", "true", "cat"):
            found = shutil.which(tool)
            if found and not (self.bin / tool).exists():
                (self.bin / tool).symlink_to(found)

    def stub(self, name, body):
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)

    def run_script(self, *args):
        env = {"PATH": str(self.bin), "PYTHON": sys.executable}
        return subprocess.run(  # noqa: S603
            ["/bin/sh", str(SCRIPT), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=False,
        )

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def test_as_root_it_updates_then_installs_what_is_missing(self):
        self.stub("id", "echo 0")
        result = self.run_script()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            self.calls(),
            ["apt-get update -qq", "apt-get install -y -qq --no-install-recommends chromium"],
        )

    def test_with_passwordless_sudo_it_installs_through_sudo(self):
        self.stub("id", "echo 1000")
        self.stub("sudo", '[ "$1" = -n ] && shift; [ "$#" -eq 1 ] && exit 0; "$@"')
        result = self.run_script()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("apt-get update -qq", self.calls())

    def test_otherwise_it_stops_with_one_line_naming_the_package(self):
        self.stub("id", "echo 1000")
        result = self.run_script()
        self.assertEqual(result.returncode, 1)
        self.assertEqual(self.calls(), [])
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("apt-get install chromium", lines[0])

    def test_nothing_is_done_when_everything_is_installed(self):
        self.stub("dpkg-query", 'printf "install ok installed"')
        self.stub("id", "echo 1000")
        result = self.run_script()
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "", ""))

    def test_make_test_checks_the_packages_before_running_anything(self):
        dry = subprocess.run(  # noqa: S603
            [shutil.which("make") or "make", "-n", "test"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "MAKEFLAGS": ""},
        ).stdout
        self.assertIn("scripts/system-deps", dry)
        self.assertLess(dry.index("scripts/system-deps"), dry.index("pytest"))

    def test_ci_uses_the_same_list(self):
        ci = (ROOT / ".ci" / "run").read_text()
        self.assertIn("scripts/system-deps", ci)
        self.assertNotIn("apt-get install", ci)

    def test_libfaketime_is_in_the_list_and_ci_runs_the_suite_a_year_ahead(self):
        listed = self.run_script("--list").stdout.split()
        self.assertIn("faketime", listed)
        self.assertIn("libfaketime", listed)
        ci = (ROOT / ".ci" / "run").read_text()
        ahead = next(line for line in ci.splitlines() if line.startswith("faketime "))
        self.assertIn("-f '+400d'", ahead)
        self.assertIn('-m "not browser"', ahead)
        # After both full runs, so the packages are installed and the venv exists.
        self.assertGreater(ci.index(ahead), ci.rindex("make test"))
