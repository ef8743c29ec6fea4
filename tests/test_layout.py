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


# --------------------------------------------------------------------------- areas (issue 28)

APP = ACTIONS.parent
DJANGO_MODULES = {
    "__init__",
    "admin",
    "admin_site",
    "apps",
    "context_processors",
    "middleware",
    "signals",
    "tasks",
    "urls",
    "widgets",
}
# Each package's imports that would run the layers backwards (lazy imports included).
NEVER = {
    "engine": "*",  # pure: nothing else of the app
    "evidence": "*",
    "discovery": {"*", "-evidence"},
    "models": {"views", "api", "actions", "interchange", "forms"},
    "access": {"views", "api"},
    "records": {"views", "api", "actions"},
    "portfolio": {"views", "api", "actions"},
    "presentation": {"views", "api", "actions"},
    "reports": {"views", "api", "actions"},
    "oscal": {"views", "api", "actions"},
    "workflow": {"views", "api"},
    "forms": {"views", "api"},
    "interchange": {"views", "api"},
    "catalogue": {"views", "api"},
    "demo": {"views", "api"},
    "scim": {"views", "api"},
    "actions": {"views", "api", "tasks"},
    "api": {"views"},
    "views": {"api"},
}


def _imported_areas(path: pathlib.Path) -> set[str]:
    """The app's top-level modules and packages ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "assessments":
                modules = [f"assessments.{alias.name}" for alias in node.names]
            else:
                modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "assessments" and len(parts) > 1:
                found.add(parts[1])
    return found


def _package_areas() -> dict[str, set[str]]:
    imports: dict[str, set[str]] = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP).parts
        if "migrations" in parts or len(parts) == 1:
            continue
        imports.setdefault(parts[0], set()).update(_imported_areas(path) - {parts[0]})
    return imports


class AreaLayoutTests(SimpleTestCase):
    def test_the_app_root_holds_djangos_modules_and_area_packages(self):
        modules = {p.stem for p in APP.glob("*.py")}
        self.assertEqual(modules - DJANGO_MODULES, set(), "a product area belongs in a package")
        for package in (p for p in APP.iterdir() if (p / "__init__.py").exists()):
            with self.subTest(package=package.name):
                if package.name in {"migrations", "management", "templatetags"}:
                    continue
                doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
                self.assertTrue(doc, f"{package.name}/__init__.py says what lives there")

    def test_area_packages_say_what_they_may_import(self):
        for name in (
            "access",
            "catalogue",
            "demo",
            "forms",
            "interchange",
            "portfolio",
            "presentation",
            "records",
            "workflow",
        ):
            with self.subTest(package=name):
                doc = ast.get_docstring(ast.parse((APP / name / "__init__.py").read_text()))
                self.assertIn("May import", doc or "")

    def test_no_package_imports_a_layer_above_it(self):
        imports = _package_areas()
        everything = set(imports) | {p.stem for p in APP.glob("*.py")}
        for package, never in NEVER.items():
            if never == "*":
                never = everything
            elif "*" in never:
                allowed = {n[1:] for n in never if n.startswith("-")}
                never = everything - allowed
            with self.subTest(package=package):
                self.assertEqual(imports.get(package, set()) & set(never) - {package}, set())

    def test_the_pages_and_the_api_are_reached_only_through_the_url_map(self):
        for path in APP.rglob("*.py"):
            parts = path.relative_to(APP).parts
            if parts[0] in {"views", "api", "urls.py", "migrations"}:
                continue
            with self.subTest(path=str(path.relative_to(APP))):
                self.assertEqual(_imported_areas(path) & {"views", "api"}, set())

    def test_no_module_is_longer_than_600_lines(self):
        root = APP.parent
        long = {}
        for folder in ("assessments", "config", "bench", "scripts"):
            for path in (root / folder).rglob("*.py"):
                if "migrations" in path.parts:
                    continue
                lines = len(path.read_text().splitlines())
                if lines > 600:
                    long[str(path.relative_to(root))] = lines
        self.assertEqual(long, {}, "split a module by concern before it passes 600 lines")
