"""`gmm`: a 2-D Gaussian mixture refitted to its own samples each generation.

The experiment of Shumailov et al. (Nature 2024; docs/papers.md): a model fitted by maximum likelihood
to finitely many of its own samples loses variance generation after generation. Milliseconds per
generation, so it serves theory checks and scale tests of the orchestration.

The true distribution has `components` isotropic Gaussians of std `std` evenly spaced on a circle
of radius `radius`. Fitting is scikit-learn's EM (`GaussianMixture`, full covariances).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from autophagy import seeding
from autophagy.backends.base import Backend
from autophagy.config import ModelSection, check
from autophagy.metrics import entropy, memorization, registry
from autophagy.samples import Samples


class GMMModelConfig(ModelSection):
    components: int = Field(2, ge=1)
    radius: float = 4.0
    std: float = Field(1.0, gt=0)
    pool: int = Field(2000, ge=2)  # real points available for training (the held-out set is data.holdout)
    em_iterations: int = Field(100, ge=1)

    def check_sweep(self, cfg) -> None:
        check(not cfg.data.eval_only_classes, "data.eval_only_classes", "the gmm backend has no classes to hold out")
        self.check_entropy_k(cfg)

    def metric_names(self, cfg=None) -> tuple[str, ...]:
        per_component = tuple(f"variance_c{k}" for k in range(self.components))
        return registry.names("mixture", "generalization_score") + per_component

    def preflight(self, cfg, problems) -> int:
        """The preflight hook (autophagy/preflight.py): the gmm draws its own real points, so there is
        nothing to load; the training pool holds `pool` of them."""
        return self.pool


class GMMBackend(Backend):
    needs_torch = False

    def __init__(self, cfg, assets, device="cpu"):
        super().__init__(cfg, assets, device)
        m = cfg.model
        angles = 2 * np.pi * np.arange(m.components) / m.components
        self.true_means = m.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        self.gm = None  # the fitted sklearn GaussianMixture

    # -------------------------------------------------------------- the true distribution

    def _true_sample(self, n: int, rng: np.random.Generator) -> Samples:
        k = rng.integers(len(self.true_means), size=n)
        x = self.true_means[k] + self.cfg.model.std * rng.standard_normal((n, 2))
        return Samples(x.astype(np.float32), k.astype(np.int64))

    def _true_logpdf(self, x: np.ndarray) -> np.ndarray:
        var = self.cfg.model.std ** 2
        sq = ((x[:, None, :] - self.true_means[None]) ** 2).sum(-1)
        logp = -sq / (2 * var) - np.log(2 * np.pi * var)
        return np.logaddexp.reduce(logp, axis=1) - np.log(len(self.true_means))

    def real_data(self) -> tuple[Samples, Samples]:
        if not hasattr(self, "_real"):
            both = self._true_sample(self.cfg.model.pool + self.cfg.data.holdout, seeding.rng(0, "split"))
            pool = np.arange(self.cfg.model.pool)
            self._real = both.take(pool), both.take(np.arange(self.cfg.model.pool, len(both)))
        return self._real

    # -------------------------------------------------------------- the loop

    def finetune(self, train: Samples, seed: int) -> dict[str, float]:
        from sklearn.mixture import GaussianMixture

        warm = {}
        if self.gm is not None and self.cfg.finetune.init == "previous":
            warm = dict(weights_init=self.gm.weights_, means_init=self.gm.means_,
                        precisions_init=np.linalg.inv(self.gm.covariances_))
        gm = GaussianMixture(self.cfg.model.components, covariance_type="full",
                             max_iter=self.cfg.model.em_iterations, random_state=seed % 2**32, **warm)
        try:
            gm.fit(train.x.astype(np.float64))
        except (ValueError, np.linalg.LinAlgError):  # degenerate data: the chain has diverged
            return {"loss": float("nan")}
        self.gm = gm
        return {"loss": float(-gm.score(train.x))}

    def sample(self, n: int, seed: int) -> Samples:
        rng = np.random.default_rng(seed)
        k = rng.choice(len(self.gm.weights_), size=n, p=self.gm.weights_)
        chol = np.linalg.cholesky(self.gm.covariances_)
        x = self.gm.means_[k] + np.einsum("nij,nj->ni", chol[k], rng.standard_normal((n, 2)))
        return Samples(x.astype(np.float32), np.full(n, -1, dtype=np.int64))

    def evaluate(self, samples: Samples, train: Samples, seed: int) -> dict[str, float]:
        _, test = self.real_data()
        k = self.cfg.metrics.entropy_k
        w, mu, cov = self.gm.weights_, self.gm.means_, self.gm.covariances_
        mean = w @ mu
        total = float(np.sum(w * (np.trace(cov, axis1=1, axis2=2) + ((mu - mean) ** 2).sum(1))))
        loglik = self.gm.score_samples(test.x.astype(np.float64))
        out = {
            "variance": total,  # trace of the fitted mixture's covariance
            "loglik": float(loglik.mean()),  # held-out real log-likelihood
            "kl": float(np.mean(self._true_logpdf(test.x.astype(np.float64)) - loglik)),  # KL(true || fit), Monte Carlo
            "sample_variance": float(samples.x.var(axis=0).sum()),
            # Kozachenko-Leonenko, in nats: the true mixture's entropy is the yardstick (two
            # well-separated unit Gaussians: log(2 pi e) + log 2 = 3.53). The floor is float32's
            # resolution at this scale: accumulated training sets can hold a point twice.
            "entropy_samples": entropy.kozachenko_leonenko(samples.x, k, min_distance=1e-6),
            "entropy_train": entropy.kozachenko_leonenko(train.x, k, min_distance=1e-6),
            # Mean distance to the nearest training point. No memorization share here: in 2-D a
            # third of the second-nearest distance is passed by chance 1/9 of the time.
            "generalization_score": memorization.generalization_score(samples.x, train.x),
        }
        # Components are sorted by angle so that per-component columns mean the same across generations.
        order = np.argsort(np.arctan2(mu[:, 1], mu[:, 0]))
        out.update({f"variance_c{i}": float(np.trace(cov[k])) for i, k in enumerate(order)})
        return out

    def state(self) -> dict[str, np.ndarray]:
        if self.gm is None:
            return {}
        return {"weights": self.gm.weights_, "means": self.gm.means_, "covariances": self.gm.covariances_}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        from sklearn.mixture import GaussianMixture

        if not state:
            self.gm = None
            return
        gm = GaussianMixture(len(state["weights"]), covariance_type="full")
        gm.weights_, gm.means_, gm.covariances_ = state["weights"], state["means"], state["covariances"]
        gm.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(gm.covariances_))
        gm.converged_, gm.n_iter_, gm.lower_bound_ = True, 0, 0.0
        self.gm = gm
