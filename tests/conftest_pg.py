"""Fixtures for tests against a real PostgreSQL server (``tests.pgcluster``).

``pg_url`` is a fresh, empty database on a throwaway server started once per session;
tests using it are skipped, saying why, where no server can be started or psycopg is
missing (``.ci/run`` installs both).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgcluster import Cluster, Unavailable


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL server for this test session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[postgres]')")
    try:
        cluster = Cluster.start()
    except Unavailable as error:
        pytest.skip(f"no PostgreSQL server: {error}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """The URL of a new, empty database."""
    return pg_cluster.new_database()
