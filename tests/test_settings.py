"""Production settings pass Django's deployment checklist with no warning."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]

PROD_ENV = {
    "SECRET_KEY": "k" * 10 + "0123456789abcdefghijklmnopqrstuvwxyz!@#$%^&*()ABCDEFG",
    "DATABASE_URL": "postgres://drover:secret@db.internal:5432/drover",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "drover.example.org",
    "DROVER_STORAGE": "s3",
    "DROVER_S3_BUCKET": "drover",
}


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, capture_output=True, text=True,
                          timeout=120, env={**{k: v for k, v in os.environ.items() if k not in PROD_ENV}, **env})


def test_check_deploy_is_clean_with_prod_env():
    out = manage("check", "--deploy", "--fail-level", "WARNING", "--settings=config.settings.prod", env=PROD_ENV)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues (0 silenced)." in out.stdout


def test_prod_refuses_to_start_without_secret_key():
    env = {k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"}
    out = manage("check", "--settings=config.settings.prod", env=env)
    assert out.returncode != 0
    assert "SECRET_KEY must be set" in out.stderr


def test_bad_storage_setting_says_what_to_use():
    out = manage("check", env={"DROVER_STORAGE": "ftp"})
    assert out.returncode != 0 and "use 'local' or 's3'" in out.stderr
