import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Shared assets (pretrained bases) go to a per-session cache, never the user's."""
    os.environ["AUTOPHAGY_CACHE"] = str(tmp_path_factory.mktemp("autophagy-cache"))


@pytest.fixture(scope="session")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
