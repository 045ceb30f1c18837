import pytest

from ._procs import PrivateRedis


@pytest.fixture
def private_redis():
    """A redis-server of the test's own, on a fixed port, stopped (and its files removed) after."""
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.close()
