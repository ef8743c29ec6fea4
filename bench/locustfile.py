"""The users of ``bench/load.py``: people who browse and answer, signed in once.

Each simulated person signs in with their own account (``load-NN``, made by
``bench/load.py``), then browses the inventory, the queue, the dashboard, agent pages
and their own draft, and answers a question of it now and then as the wizard's
autosave does. Request names group URLs by page, so the figures are per page.

Everyone signs in at the start, and a sign-in hashes a password on purpose (about half
a second of CPU each): 25 at once keep both cores busy for seconds. The figures of the
pages are for people at work: each person waits until the last one has signed in, the
figures then start over (with the sign-ins recorded again: their times and any
failure) and everyone works for ``LOAD_SECONDS``, after which the run stops. Each starts
with a pause like the one between any two of their actions, so that 25 people do not
click at the very same instant.

With ``LOAD_DECISIONS`` (assessments submitted for a decision, made by ``bench/load.py
--decide``), one more person, a reviewer, approves or returns one of them every 20 s
while the others browse: each decision changes the portfolio, so the pages read
figures that are being computed again in the background.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading

import gevent
from gevent.event import Event
from locust import HttpUser, between, constant, task

PEOPLE = json.loads(os.environ["LOAD_PEOPLE"])
AGENT_SLUGS: list[str] = json.loads(os.environ["LOAD_AGENTS"])
PASSWORD = os.environ["LOAD_PASSWORD"]
SECONDS = float(os.environ["LOAD_SECONDS"])
VERSION = re.compile(r'name="lock_version"[^>]*value="(\d+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DECISION_MODES = ["context_driven", "planner_executor", "model_assisted", "fixed_script"]
DECISIONS: list[dict] = json.loads(os.environ.get("LOAD_DECISIONS") or "[]")
REVIEWER = os.environ.get("LOAD_REVIEWER", "")
_next = iter(range(len(PEOPLE)))
_lock = threading.Lock()
_signed_in: list[tuple[str, float, int, Exception | None]] = []
_everyone_in = Event()


def _record_sign_in(user: HttpUser, response) -> None:
    """Remember a sign-in; when the last person is in, start the figures over, put the
    sign-ins back in them, let everyone start working and stop the run ``SECONDS``
    later."""
    failed = None
    if response.status_code != 200 or "/accounts/login/" in response.url:
        failed = Exception(f"sign-in failed ({response.status_code})")
        response.failure(str(failed))
    with _lock:
        _signed_in.append(
            ("sign-in", response.elapsed.total_seconds() * 1000, len(response.content), failed)
        )
        if len(_signed_in) < user.environment.parsed_options.num_users:
            return
        user.environment.stats.reset_all()
        for name, elapsed, length, exception in _signed_in:
            user.environment.events.request.fire(
                request_type="POST",
                name=name,
                response_time=elapsed,
                response_length=length,
                exception=exception,
                context={},
            )
        runner = user.environment.runner
        gevent.spawn_later(SECONDS, runner.quit)
        _everyone_in.set()


def _sign_in(user: HttpUser, username: str) -> None:
    page = user.client.get("/accounts/login/", name="sign-in")
    token = CSRF.search(page.text).group(1)
    with user.client.post(
        "/accounts/login/",
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        name="sign-in",
        catch_response=True,
    ) as response:
        _record_sign_in(user, response)
    _everyone_in.wait()


class Person(HttpUser):
    wait_time = between(1, 3)
    weight = 100

    def on_start(self) -> None:
        with _lock:
            self.me = PEOPLE[next(_next) % len(PEOPLE)]
        _sign_in(self, self.me["username"])
        gevent.sleep(self.wait_time())
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


if DECISIONS:  # defined only then: Locust runs every user class of this file

    class Reviewer(HttpUser):
        """Approves or returns a submitted assessment every 20 s (in turn), through the
        assessment page's decision form, as a reviewer does."""

        fixed_count = 1
        wait_time = constant(20)

        def on_start(self) -> None:
            self.turn = 0
            _sign_in(self, REVIEWER)
            gevent.sleep(random.uniform(0, 5))

        @task
        def decide(self) -> None:
            if self.turn >= len(DECISIONS):
                return
            item = DECISIONS[self.turn]
            decision = "approve" if self.turn % 2 == 0 else "return"
            self.turn += 1
            url = f"/agents/{item['slug']}/assessments/{item['number']}/"
            page = self.client.get(url, name="/agents/<slug>/assessments/<n>/")
            token = CSRF.search(page.text)
            version = VERSION.search(page.text)
            with self.client.post(
                f"{url}decide/",
                {
                    "decision": decision,
                    "lock_version": version.group(1) if version else item["lock_version"],
                    "comment": "Please check the credential model again.",
                    "csrfmiddlewaretoken": token.group(1) if token else "",
                },
                name=f"{decision} (POST)",
                allow_redirects=False,
                catch_response=True,
            ) as response:
                if response.status_code != 302:
                    response.failure(f"{decision} answered {response.status_code}")
