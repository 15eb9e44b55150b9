"""The Parzen-window log-likelihood of Goodfellow et al. 2014 (after Breuleux et al. 2011).

A Gaussian kernel of width σ is put on every generated sample; σ is the value of
logspace(-1, 0, 10) that maximises the mean log-likelihood of a validation set (a fixed subset of
the train split), and the estimate is the mean log-likelihood of the test split, with its standard
error. Images are scored in [0, 1] pixel units, as in the paper. Known to be unreliable in high
dimensions (Theis et al. 2016): report it for comparison with old papers only.
"""

from __future__ import annotations

from pydantic import Field

from ganx import Metric, Params

SIGMAS = tuple(10 ** (-1 + i / 9) for i in range(10))  # logspace(-1, 0, 10)


def parzen_log_likelihood(x, centres, sigma: float, chunk: int = 1000):
    """log p(x) under the mixture of N(centre, σ²I) over ``centres``, per row of ``x`` (float64)."""
    import math

    import torch

    n, d = centres.shape
    out = []
    for part in x.split(chunk):
        sq = torch.cdist(part, centres).double().pow(2)
        out.append(torch.logsumexp(-sq / (2 * sigma**2), 1))
    return torch.cat(out) - math.log(n) - d / 2 * math.log(2 * math.pi * sigma**2)


class ParzenLL(Metric):
    """Mean Parzen-window log-likelihood of the test split, in nats (σ chosen on a validation split)."""

    name = "parzen_ll"
    direction = "maximize"

    class Params(Params):
        validation: int = Field(1000, gt=0, description="train samples used to choose σ")
        test: int = Field(10_000, gt=0, description="test samples the estimate is made on")

    def _flat(self, ev, x):
        x = x.reshape(len(x), -1).float().to(ev.device)
        return x * 0.5 + 0.5 if ev.dataset.kind == "images" else x

    def compute(self, ev):
        from ganx.plugins.features import real_samples

        fake = self._flat(ev, ev.fake)
        validation = self._flat(ev, real_samples(ev.dataset, ev.data_dir, "train", self.params.validation)[0])
        test = self._flat(ev, real_samples(ev.dataset, ev.data_dir, "test", self.params.test)[0])
        scores = [parzen_log_likelihood(validation, fake, s).mean().item() for s in SIGMAS]
        sigma = SIGMAS[max(range(len(SIGMAS)), key=scores.__getitem__)]
        ll = parzen_log_likelihood(test, fake, sigma)
        ev.cache["parzen"] = {
            "sigma": sigma,
            "standard_error": ll.std().item() / len(ll) ** 0.5,
            "validation_samples": len(validation),
            "test_samples": len(test),
        }
        return ll.mean().item()

    def protocol(self, ev):
        units = "[0, 1] pixels" if ev.dataset.kind == "images" else "data units"
        return {
            "fake_samples": len(ev.fake),
            "sigma_grid": "logspace(-1, 0, 10)",
            "units": units,
            **ev.cache.get("parzen", {}),
        }
