"""Storage errors while the bytes of a Mitosis artifact or attachment arrive (local storage,
PUT /storage/upload/<token>): the disk is full (a 256 KB tmpfs, when this host lets us mount one)
or the storage directory cannot be used at all. Expected: a clear error; the group's quota
accounting, the rows and the files as they were before the PUT; a retry works once the storage
is back."""

import os
import shutil
import subprocess

import pytest

from apps.groups.models import Group
from apps.storage import backends
from apps.storage.models import Artifact, Attachment
from tests.mitosis.conftest_storage import LOCAL, put_bytes, submit

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
SIZE = 100_000


def use_store(settings, location) -> None:
    settings.STORAGES = {**settings.STORAGES, backends.STORAGE_ALIAS: {
        "BACKEND": LOCAL, "OPTIONS": {"location": str(location), "allow_overwrite": True}}}
    settings.DROVER_STORAGE_PUBLIC_URL = ""


@pytest.fixture
def full_disk(settings, tmp_path):
    """A 256 KB tmpfs as the storage, filled up but for 16 KB; yields the filler file (delete it
    to make room)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command; the broken-directory case remains")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=False,
                          capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); the broken-directory case remains")
    try:
        use_store(settings, mount)
        filler = mount / "filler"
        free = shutil.disk_usage(mount).free
        filler.write_bytes(b"\0" * (free - 16 * 1024))
        yield filler
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


@pytest.fixture
def broken_dir(settings, tmp_path):
    """The storage directory lies below a regular file: nothing can be created there (even root
    cannot, unlike a chmod). Yields a callable that repairs it."""
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    use_store(settings, blocker / "objects")

    def repair():
        blocker.unlink()
        blocker.mkdir()

    return repair


@pytest.fixture
def user(alice, login):
    client = login("alice", "pw-alice")
    client.raise_request_exception = False  # see the answer a real client would get
    return client


def reserve(user, kind: str) -> tuple[str, str, object]:
    """An upload URL for SIZE bytes: (url, object name, rows of that kind)."""
    if kind == "artifact":
        task = submit(user)
        response = user.post(f"/tasks/{task}/artifacts", {"content_type": "result", "content_length": SIZE},
                             format="json")
        name, rows = f"artifacts/{task}/result.tar.gz", Artifact.objects
    else:
        response = user.post("/groups/alice/attachments", {"key": "data/in.bin", "content_length": SIZE},
                             format="json")
        name, rows = "attachments/alice/data/in.bin", Attachment.objects
    assert response.status_code == 200, response.content
    return response.json()["url"], name, rows


def snapshot(rows) -> tuple:
    return Group.objects.get(name="alice").storage_used, list(rows.values_list("pk", "size"))


def leftovers(storage) -> list[str]:
    """Files under the storage directory but the filler: temporary uploads or partial objects."""
    root = storage.location
    found = []
    for dirpath, _, files in os.walk(root):
        found += [os.path.relpath(os.path.join(dirpath, f), root) for f in files]
    return sorted(f for f in found if f != "filler")


@pytest.mark.parametrize("kind", ["artifact", "attachment"])
def test_disk_full_during_upload_changes_nothing_and_a_retry_works(user, full_disk, kind):
    url, name, rows = reserve(user, kind)
    before = snapshot(rows)
    assert before[0] == SIZE and len(before[1]) == 1  # reserved when the URL was given, as in Mitosis
    failed = put_bytes(user, url, b"x" * SIZE)
    assert failed.status_code >= 400 and failed["Content-Type"].startswith("application/json")
    storage = backends.object_storage()
    assert snapshot(rows) == before  # quota accounting and rows untouched by the failed upload
    assert leftovers(storage) == [] and not storage.exists(name)  # no partial object, no temp file
    full_disk.unlink()  # room again: the same URL works
    assert put_bytes(user, url, b"y" * SIZE).status_code == 200
    assert storage.open(name).read() == b"y" * SIZE
    assert snapshot(rows) == before


def test_disk_full_during_upload_is_a_clear_error(user, full_disk):
    url, _, _ = reserve(user, "artifact")
    failed = put_bytes(user, url, b"x" * SIZE)
    assert failed.status_code == 507, failed.content  # Insufficient Storage: retry later, after space is freed
    assert "storage" in failed.json()["detail"].lower()


@pytest.mark.parametrize("kind", ["artifact", "attachment"])
def test_unusable_storage_directory_changes_nothing_and_a_retry_works(user, broken_dir, kind):
    url, name, rows = reserve(user, kind)
    before = snapshot(rows)
    failed = put_bytes(user, url, b"x" * SIZE)
    assert failed.status_code >= 400 and failed["Content-Type"].startswith("application/json")
    assert snapshot(rows) == before
    broken_dir()
    storage = backends.object_storage()
    assert leftovers(storage) == []
    assert put_bytes(user, url, b"y" * SIZE).status_code == 200
    assert storage.open(name).read() == b"y" * SIZE and snapshot(rows) == before


def test_unusable_storage_directory_is_a_clear_error(user, broken_dir):
    url, _, _ = reserve(user, "attachment")
    failed = put_bytes(user, url, b"x" * SIZE)
    assert failed.status_code == 503, failed.content  # the service's storage is unavailable, not the request
    assert "storage" in failed.json()["detail"].lower()
