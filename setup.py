"""What the wheel holds: the two packages, their data, and the templates and static files.

The rest of the packaging (name, dependencies, tools) is in pyproject.toml. This file
exists for one thing pyproject.toml's ``packages.find`` cannot say: ``templates/`` and
``static/`` live at the top of the checkout (Django's ``TEMPLATES["DIRS"]`` and
``STATICFILES_DIRS``), and a wheel ships them inside the ``config`` package, as
``config/templates`` and ``config/static``, where config/settings.py looks for them
first. tests/test_wheel.py builds the wheel, installs it in a fresh virtualenv and
renders a page and a PDF from it.
"""

from setuptools import find_namespace_packages, setup

SHIPPED_DIRS = {"config.templates": "templates", "config.static": "static"}

# Each folder under them is a package of data files only (setuptools' term for them).
shipped = [
    f"{package}.{sub}" if sub else package
    for package, folder in SHIPPED_DIRS.items()
    for sub in ("", *find_namespace_packages(where=folder))
]

setup(
    packages=[*find_namespace_packages(include=["assessments*", "config*"]), *shipped],
    package_dir=SHIPPED_DIRS,
    package_data={
        # The catalogue, the questionnaire and the analysers' data, wherever they live.
        "": ["*.yaml"],
        **dict.fromkeys(shipped, ["*"]),
    },
)
