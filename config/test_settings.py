"""Settings for the test suite: the production settings with fast, isolated services."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("AUDIT_KEY", "test-only-audit-key-not-for-production-use-9876543210")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
STRICT_FETCH = True
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ALLOW_FLUSH_OF_RECORDS = True  # flushes between TransactionTestCases lift the guards

# SQLite tests use a file, as production does: an in-memory database shared between
# threads locks whole tables instead of waiting, so the parallel sign-in test could not
# run against it. WAL keeps it about as fast.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")  # noqa: F405
    }

# The cache outlives each test while user ids repeat between tests: a per-person render
# limit would trip across unrelated tests. Its own test sets a small limit.
REPORT_RENDER_LIMIT = 10_000

# The demo's quarterly board packs are rendered only by the tests about them
# (tests/test_demo.py): every other test that loads the demo skips three PDFs.
DEMO_BOARD_PACKS = False
