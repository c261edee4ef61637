"""pytest plugin loaded before pytest-django reads the settings (``-p`` in pyproject).

Tests keep their data (queue folder, SQLite, secret key) in a temporary
folder, away from the ``var/`` that ``make run`` uses.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("LAKEWEB_DATA_DIR", tempfile.mkdtemp(prefix="lakeweb-test-"))
# Tests sign staff and curators in without a second factor; the tests of the
# requirement itself (lakeweb/tests/test_mfa.py) turn it on.
os.environ.setdefault("LAKEWEB_MFA_REQUIRED_FOR_STAFF", "false")
