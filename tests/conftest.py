import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Shared assets (pretrained bases) go to a per-session cache, never the user's."""
    os.environ["AUTOPHAGY_CACHE"] = str(tmp_path_factory.mktemp("autophagy-cache"))


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """The tests' in-process chains (test_faults._uninterrupted, the chain and mitigation tests) fit
    2-D gmm covariances: OpenBLAS's threads only spin on them, 10x slower on 2 busy cores (64 s
    instead of 6 s for 4 chains x 151 generations). Ray's workers run with OMP_NUM_THREADS=1
    already, and their rows equal these. torch's own OpenMP threads are not touched."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


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
