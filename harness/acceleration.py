"""Options that make a run faster on a GPU without changing what it computes.

``amp`` (autocast, plus a GradScaler for fp16), ``channels_last`` and ``compile`` come from the run
config; where the data lives is decided from its size: on the GPU when it fits, else in pinned
host memory with batches copied over without blocking. See docs/performance.md.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:
    import torch

    from .components import Run
    from .config import RunConfig

DATA_SHARE_OF_FREE_GPU_MEMORY = 0.5  # above this the dataset stays in host memory


class Precision:
    """How one network's updates run: autocast around its forward passes, a GradScaler for fp16."""

    def __init__(self, amp: str = "off", device_type: str = "cpu"):
        import torch

        if amp == "fp16" and device_type != "cuda":
            raise UserError(f"amp: fp16 needs a CUDA GPU (device is {device_type}); use bf16 or off")
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.device_type = device_type
        self.scaler = torch.amp.GradScaler(device_type) if amp == "fp16" else None

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device_type, self.dtype)

    def backward(self, loss, optimizer) -> None:
        """Backward; with a scaler the gradients are unscaled afterwards, so hooks see true gradients."""
        if self.scaler is None:
            loss.backward()
            return
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)

    def step(self, optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)  # skipped when a gradient is inf/nan; the scale then shrinks
        self.scaler.update()


FULL = Precision()


def accelerate(run: Run, config: RunConfig) -> None:
    """Apply ``channels_last`` and ``compile`` to G and D (after the tricks' setup may have wrapped them)."""
    import torch

    if config.channels_last:
        run.generator.to(memory_format=torch.channels_last)
        run.discriminator.to(memory_format=torch.channels_last)
        if run.data.dim() == 4:
            run.data = run.data.contiguous(memory_format=torch.channels_last)
    if config.compile:
        run.generator.compile()  # in place: state_dict keys (checkpoints) stay as they were
        run.discriminator.compile()


def fits_on_device(data: torch.Tensor, device: torch.device) -> bool:
    """Whether the whole dataset should live on ``device`` (always, except when it would crowd a GPU)."""
    import torch

    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return data.nbytes <= DATA_SHARE_OF_FREE_GPU_MEMORY * free


def host_sampler(data: torch.Tensor, device: torch.device, seed: int):
    """``sample_real`` for a dataset kept in host memory: gather a batch there, copy it without blocking."""
    import torch

    pin = device.type == "cuda"
    data = data.pin_memory() if pin else data
    rng = torch.Generator().manual_seed(seed)

    def sample_real(n: int) -> torch.Tensor:
        batch = data[torch.randint(len(data), (n,), generator=rng)]
        return (batch.pin_memory() if pin else batch).to(device, non_blocking=True)

    return sample_real
