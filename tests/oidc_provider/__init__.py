"""A real OpenID provider for the single sign-on tests: django-allauth's IdP app in its
own settings module, its own SQLite database, served by ``runserver`` in a subprocess
(tests/test_browser_sso.py starts it). Nothing here is part of the product."""
