import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Shared assets (pretrained bases) go to a per-session cache, never the user's."""
    os.environ["AUTOPHAGY_CACHE"] = str(tmp_path_factory.mktemp("autophagy-cache"))


@pytest.fixture(scope="session")
def ray_local(_faults):
    import ray

    # address="local": a new instance, never a cluster that /tmp/ray happens to record.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session", autouse=True)
def _faults(tmp_path_factory):
    """Ray's workers inherit this at ray.init: tests plan faults by writing the file (see faults.py)."""
    path = tmp_path_factory.mktemp("faults") / "faults.json"
    os.environ["AUTOPHAGY_FAULTS"] = str(path)
    return path
