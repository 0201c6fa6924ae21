"""The seed's integration test runs against the end-to-end harness: five service processes, a private broker."""

from tests.e2e.conftest import e2e_broker, running_system  # noqa: F401  (fixtures shared with the e2e stories)
