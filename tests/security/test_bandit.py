"""bandit over apps/ and config/ (issue 7, hardening): no medium or high finding without an
explanation. The explanations are the triage table of docs/SECURITY.md ("## bandit triage"), one
row per finding keyed by test id, file and the flagged line's code (not its number, so edits
elsewhere in the file do not matter). A new finding fails until it is fixed or explained there; an
explanation whose finding is gone fails until its row is removed."""

import functools
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import global_settings
from rest_framework.test import APIClient

from apps.groups import services
from apps.groups.models import User
from conftest import basic_header, md5_list

from .test_console_security import prod_module

BASE_DIR = Path(__file__).resolve().parents[2]
SECURITY_MD = BASE_DIR / "docs" / "SECURITY.md"
SECTION = "## bandit triage"
CELL = re.compile(r"(?<!\\)\|")


@functools.cache
def bandit_findings() -> Counter:
    """(test id, file, stripped code of the flagged line) of every medium/high finding."""
    if importlib.util.find_spec("bandit") is None:
        pytest.fail("bandit is not installed: pip install -r requirements/dev.txt")
    out = subprocess.run([sys.executable, "-m", "bandit", "-c", "pyproject.toml", "-r", "apps", "config", "-ll",
                          "-f", "json", "-q"], cwd=BASE_DIR, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode in (0, 1), out.stderr  # 1: there are findings
    report = json.loads(out.stdout)
    assert report["errors"] == [], report["errors"]  # a file bandit could not read is a file not checked
    found = Counter()
    for result in report["results"]:
        lines = (BASE_DIR / result["filename"]).read_text().splitlines()
        found[(result["test_id"], result["filename"], lines[result["line_number"] - 1].strip())] += 1
    return found


def explained() -> tuple[Counter, list[str]]:
    """The rows of the triage table, and the rows without a reason."""
    text = SECURITY_MD.read_text()
    assert SECTION in text, f"{SECURITY_MD} has no '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows, unexplained = Counter(), []
    for line in section.splitlines():
        if not re.match(r"\|\s*B\d{3}\s*\|", line):
            continue
        cells = [cell.strip().replace("\\|", "|") for cell in CELL.split(line.strip())[1:-1]]
        test_id, _severity, path, code, reason = cells
        key = (test_id, path, code.strip("`").strip())
        rows[key] += 1
        if len(reason) < 20:
            unexplained.append(line)
    return rows, unexplained


def row_for(key) -> str:
    test_id, path, code = key
    return f"| {test_id} | ? | {path} | `{code.replace('|', chr(92) + '|')}` | why it is safe, or the fix |"


def test_every_medium_or_high_finding_is_explained():
    found, (rows, unexplained) = Counter(bandit_findings()), explained()
    new = found - rows
    assert not new, ("bandit findings with no row in docs/SECURITY.md's triage table; fix them, or add a row "
                     "saying why each is safe:\n" + "\n".join(row_for(k) for k in new.elements()))
    assert not unexplained, "rows without a reason:\n" + "\n".join(unexplained)


def test_no_explanation_outlives_its_finding():
    stale = explained()[0] - Counter(bandit_findings())
    assert not stale, ("rows of docs/SECURITY.md's triage table whose finding is gone (fixed, or the line "
                       "changed): remove or update them:\n" + "\n".join(row_for(k) for k in stale.elements()))


def test_the_triage_table_is_parsed():
    rows, _ = explained()
    assert sum(rows.values()) >= 30  # the table itself is read, not an empty section


# The two B324 rows say: the MD5 digest is what a Mitosis client sends instead of the password,
# and Drover stores it only through Django's password hasher. Under the production hasher:


@pytest.mark.django_db
def test_passwords_are_stored_with_the_production_hasher_never_as_md5(settings, monkeypatch):
    prod = prod_module(monkeypatch)
    settings.PASSWORD_HASHERS = getattr(prod, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
    services.user_create(username="carol", password="pw-carol")  # console, /token/, Basic
    services.user_create(username="dave", secret=bytes(md5_list("pw-dave")).hex())  # Mitosis' admin create
    for name in ("carol", "dave"):
        stored = User.objects.get(username=name).password
        digest = hashlib.md5(f"pw-{name}".encode()).digest()
        assert stored.startswith("pbkdf2_sha256$")
        assert digest.hex() not in stored and f"pw-{name}" not in stored
        assert str(list(digest)) not in stored
    api = APIClient()
    login = api.post("/login", {"username": "dave", "md5_password": md5_list("pw-dave")}, format="json")
    assert login.status_code == 200  # the same stored secret serves both forms
    api.credentials(HTTP_AUTHORIZATION=basic_header("dave", "pw-dave"))
    assert api.get("/auth").status_code == 200
