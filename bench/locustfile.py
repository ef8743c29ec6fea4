"""The users of ``bench/load.py``: people who browse and answer, signed in once.

Each simulated person signs in with their own account (``load-NN``, made by
``bench/load.py``), then browses the inventory, the queue, the dashboard, agent pages
and their own draft, and answers a question of it now and then as the wizard's
autosave does. Request names group URLs by page, so the figures are per page.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading

from locust import HttpUser, between, task

PEOPLE = json.loads(os.environ["LOAD_PEOPLE"])
AGENT_SLUGS: list[str] = json.loads(os.environ["LOAD_AGENTS"])
PASSWORD = os.environ["LOAD_PASSWORD"]
VERSION = re.compile(r'name="lock_version"[^>]*value="(\d+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DECISION_MODES = ["context_driven", "planner_executor", "model_assisted", "fixed_script"]
_next = iter(range(len(PEOPLE)))
_lock = threading.Lock()


class Person(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        with _lock:
            self.me = PEOPLE[next(_next) % len(PEOPLE)]
        page = self.client.get("/accounts/login/", name="sign-in")
        token = CSRF.search(page.text).group(1)
        self.client.post(
            "/accounts/login/",
            {"username": self.me["username"], "password": PASSWORD, "csrfmiddlewaretoken": token},
            name="sign-in",
        )
        self.wizard = f"/agents/{self.me['slug']}/assessments/{self.me['number']}/wizard/"
        self.version = None
        self.csrf = None
        self.step = None

    @task(4)
    def inventory(self) -> None:
        page = random.randint(1, 200)
        self.client.get(f"/agents/?page={page}", name="/agents/")

    @task(2)
    def search(self) -> None:
        self.client.get("/agents/?q=invoice", name="/agents/?q=")

    @task(3)
    def queue(self) -> None:
        self.client.get("/queue/", name="/queue/")

    @task(3)
    def dashboard(self) -> None:
        self.client.get("/", name="/ (dashboard)")

    @task(3)
    def agent_page(self) -> None:
        self.client.get(f"/agents/{random.choice(AGENT_SLUGS)}/", name="/agents/<slug>/")

    @task(2)
    def open_wizard(self) -> None:
        response = self.client.get(self.wizard, name="wizard step")
        self._remember(response)

    @task(3)
    def autosave(self) -> None:
        if self.version is None:
            self.open_wizard()
        mode = random.choice(DECISION_MODES)
        response = self.client.post(
            f"{self.wizard}answer/",
            {
                "question": "decision_mode",
                "decision_mode": mode,
                "lock_version": self.version,
                "csrfmiddlewaretoken": self.csrf,
            },
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf or ""},
            name="autosave",
        )
        self._remember(response)

    def _remember(self, response) -> None:
        if found := VERSION.search(response.text):
            self.version = found.group(1)
        if found := CSRF.search(response.text):
            self.csrf = found.group(1)
