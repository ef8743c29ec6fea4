"""The layout the conventions promise: actions by area, no actions <-> tasks circle."""

import ast
import pathlib

from django.test import SimpleTestCase

from assessments import actions
from assessments.workflow import background

ACTIONS = pathlib.Path(actions.__file__).parent


class ActionsPackageTests(SimpleTestCase):
    def test_actions_never_import_the_tasks_module(self):
        for path in ACTIONS.glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""] + [
                        f"{node.module}.{alias.name}" for alias in node.names
                    ]
                with self.subTest(path=path.name):
                    self.assertFalse(
                        [n for n in names if n.startswith("assessments.tasks")],
                        f"{path.name} imports assessments.tasks",
                    )

    def test_every_action_is_reachable_from_the_package(self):
        for name in actions.__all__:
            with self.subTest(name=name):
                self.assertTrue(hasattr(actions, name))
        self.assertTrue(callable(actions.submit_assessment))

    def test_background_knows_the_registered_tasks_and_refuses_others(self):
        background.enqueue("send_review_reminders", dry_run=True, on_commit=False)
        with self.assertRaisesMessage(LookupError, "no_such_task"):
            background.enqueue("no_such_task")
