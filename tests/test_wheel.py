"""The wheel holds everything the application reads at run time.

The package is built as a wheel from a copy of the sources, installed (without its
dependencies) into a fresh virtualenv that borrows this one's installed dependencies,
and run from a folder outside the checkout against a new SQLite database: migrate
(the catalogue and questionnaire YAML are loaded by data migrations), render the
sign-in page and an agent's page (templates, static files through the finders) and an
approved assessment's PDF report (the report stylesheet and its fonts). Nothing is
fetched: pip builds with this virtualenv's setuptools and installs the wheel alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parent.parent
# What the build reads (pyproject.toml names README.md as the long description).
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "assessments",
    "config",
    "templates",
    "static",
)

# Run by the fresh virtualenv's Python, in a folder outside the checkout.
SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import django

    django.setup()

    import assessments
    import config

    checkout = Path(sys.argv[1])
    for module in (assessments, config):
        assert checkout not in Path(module.__file__).resolve().parents, module.__file__

    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    call_command("migrate", verbosity=0)

    from assessments import actions
    from django.contrib.auth import get_user_model

    from assessments.models import CatalogueVersion, Team
    from assessments.access.roles import sync_roles

    User = get_user_model()

    assert CatalogueVersion.objects.exists(), "no catalogue loaded by the migrations"
    sync_roles()
    people = {}
    for name in ("viewer", "assessor", "reviewer"):
        people[name] = User.objects.create_user(username=name, password="x", first_name=name)
        people[name].groups.add(Group.objects.get(name=name))
    team = Team.objects.create(name="Platform", slug="platform")
    agent = actions.create_agent(
        people["assessor"],
        fields={
            "name": "Ledger bot",
            "slug": "ledger-bot",
            "purpose": "Posts the ledger.",
            "owner": people["viewer"],
            "team": team,
            "environments": ["production"],
            "platform": "Kubernetes",
            "credential_model": "workload_identity",
        },
        systems=[],
        links=[],
    )
    answers = {
        "decision_mode": "fixed_script",
        "tool_selection": "fixed",
        "crosses_environments": False,
        "calls_external_apis": False,
        "credential_model": "vaulted_rotated",
        "decides_own_scopes": False,
        "alters_own_access": False,
        "shared_platform_role": False,
        "human_approval": "every_action",
        "delegated_approval": False,
        "network_reach": "allowlisted",
        "traced_identity": "all",
        "traced_policy_decision": "all",
        "traced_audit_record": "all",
        "orchestration": "standalone",
        "hybrid_pipeline": False,
        "planned_changes": [],
    }
    draft = actions.start_assessment(people["assessor"], agent)
    draft = actions.save_answers(
        people["assessor"], draft, answers, expected_version=draft.lock_version
    )
    done = actions.submit_assessment(people["assessor"], draft)
    done = actions.approve_assessment(people["reviewer"], done)

    client = Client()
    page = client.get(reverse("account_login"))
    assert page.status_code == 200, page.status_code
    assert b"Sign in" in page.content
    client.force_login(people["reviewer"])
    page = client.get(reverse("assessments:agent_detail", args=[agent.slug]))
    assert page.status_code == 200, page.status_code
    assert b"Ledger bot" in page.content
    css = client.get("/static/css/app.css")
    assert css.status_code == 200, css.status_code
    report = client.get(reverse("assessments:assessment_report", args=[agent.slug, done.number]))
    assert report.status_code == 200, report.status_code
    body = b"".join(report.streaming_content) if report.streaming else report.content
    assert body.startswith(b"%PDF-"), body[:100]
    print(f"rendered a page of {len(page.content)} bytes and a PDF of {len(body)} bytes")
    """
)


class WheelTests(SimpleTestCase):
    def test_the_installed_wheel_migrates_and_renders_a_page_and_a_pdf(self):
        with tempfile.TemporaryDirectory(prefix="assessor-wheel-") as tmp:
            folder = Path(tmp)
            wheel = self.build(folder)
            python = self.install(folder, wheel)
            run = folder / "run"
            run.mkdir()
            (run / "check.py").write_text(SCRIPT)
            env = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith(("DJANGO_", "PYTHON", "DATABASE_"))
            }
            env.update(
                DJANGO_SETTINGS_MODULE="config.test_settings",
                DATABASE_URL=f"sqlite:///{run / 'db.sqlite3'}",
            )
            done = subprocess.run(  # noqa: S603 (the fresh virtualenv's Python, our script)
                [str(python), "check.py", str(ROOT)],
                cwd=run,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            self.assertEqual(done.returncode, 0, done.stderr[-4000:])
            self.assertIn("and a PDF of", done.stdout)

    def build(self, folder: Path) -> Path:
        """The wheel, built from a copy of the sources (no stale build/ folder)."""
        source = folder / "source"
        for name in SOURCES:
            path = ROOT / name
            if path.is_dir():
                shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                source.mkdir(exist_ok=True)
                shutil.copy2(path, source / name)
        self.pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", folder, source)
        (wheel,) = folder.glob("*.whl")
        return wheel

    def install(self, folder: Path, wheel: Path) -> Path:
        """A fresh virtualenv holding the wheel alone; this one's site-packages on its
        path (after its own) for the dependencies. Its Python."""
        venv = folder / "venv"
        subprocess.run(  # noqa: S603 (this interpreter)
            [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
        )
        python = venv / "bin" / "python"
        self.pip("--python", python, "install", "--no-deps", "--no-index", wheel)
        site = subprocess.run(  # noqa: S603 (the fresh virtualenv's Python)
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
        return python

    def pip(self, *args: object) -> None:
        done = subprocess.run(  # noqa: S603 (this interpreter's pip)
            [sys.executable, "-m", "pip", "--disable-pip-version-check", *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr[-4000:])
