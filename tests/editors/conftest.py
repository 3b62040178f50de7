"""Screen tests of real editors (see screen.py). Every editor is required:
a missing one fails its tests with what to install."""

import pytest

from screen import BINARY


def pytest_configure(config):
    config.addinivalue_line("markers", "model(pause, fail): how the loopback model answers")


def pytest_sessionstart(session):
    if not BINARY.is_file():
        pytest.exit(f"cordon binary not found at {BINARY}: build it first with "
                    "`cargo build --release -p cordon` (or set CORDON_BIN)", returncode=1)


def pytest_collection_modifyitems(items):
    # A hung editor fails its test instead of stalling CI. Not a speed check.
    for item in items:
        if "tests/editors/" in str(item.fspath):
            item.add_marker(pytest.mark.timeout(90))
