"""Test settings: the product's settings with a throwaway data dir and inline jobs."""

import os
import tempfile

os.environ["FANGKONG_DATA_DIR"] = tempfile.mkdtemp(prefix="fangkong-test-")
os.environ.setdefault("FANGKONG_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")

from fangkong.settings import *  # noqa: F403

# Argon2 is the product's hasher (tests/accounts check it); tests log in thousands of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
