"""The scale-out path the README documents: Django tasks on Redis through RQ.

Runs the real django-tasks-rq backend against the Redis on this machine (CI starts
it), with an in-process RQ worker using django-tasks-rq's job class.
"""

from __future__ import annotations

import os

import django_rq
from django.core import mail
from django.test import TestCase, override_settings
from django_tasks_rq.backend import Job
from rq import SimpleWorker

from assessments import tasks
from tests import factories as f

# One Redis database per xdist worker, so parallel runs do not share a queue.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
REDIS_URL = f"redis://127.0.0.1:6379/{10 + int(_WORKER.removeprefix('gw') or 0) % 5}"


class Worker(SimpleWorker):
    """RQ's worker without its command channel (a Redis pub/sub listener thread, for
    "stop this job" commands, which this test does not send). Stopping that thread waits
    for its current wait to end: up to a minute per test, and forever under libfaketime
    (CI's year-ahead run), where a thread's timed wait is measured on a clock moved 400
    days ahead."""

    def subscribe(self) -> None:
        self.pubsub_thread = None


@override_settings(
    TASKS={"default": {"BACKEND": "django_tasks_rq.RQBackend"}},
    RQ_QUEUES={"default": {"URL": REDIS_URL}},
)
class RQBackendTests(TestCase):
    def setUp(self):
        self.queue = django_rq.get_queue("default", job_class=Job)
        self.queue.connection.flushdb()
        self.addCleanup(self.queue.connection.flushdb)

    def work(self):
        worker = django_rq.get_worker("default", job_class=Job, worker_class=Worker)
        worker.work(burst=True)

    def test_the_daily_reminder_task_runs_on_an_rq_worker(self):
        owner = f.assessor("olga")
        agent = f.agent(owner, slug="due-soon")
        f.approved(agent, owner, f.reviewer())
        result = tasks.send_review_reminders.enqueue(dry_run=True)
        self.assertEqual(self.queue.count, 1)
        self.work()
        result.refresh()
        self.assertEqual(result.status, "SUCCESSFUL")
        self.assertEqual(result.return_value["dry_run"], True)
        self.assertEqual(mail.outbox, [])
