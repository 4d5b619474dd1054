"""Audio features in torch: the log-mel spectrogram, differentiable so that attacks reach the waveform.

A waveform is a float tensor ``N×T`` in [−1, 1] (8 kHz for the course's spoken digits). The keyword
classifier (``helpers.models.keyword_cnn``) starts with a ``LogMel`` layer, so it maps waveforms to logits
and ∂logits/∂waveform exists — exactly as an image model starts with ``Normalize``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from helpers._checks import check_int, check_positive, check_tensor, check_waveforms


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """The HTK mel scale, m = 2595 · log10(1 + f / 700)."""
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular mel filters, ``(n_fft // 2 + 1) × n_mels``: filter m rises linearly from the centre
    frequency of m − 1 to its own and falls to that of m + 1; the n_mels + 2 edges are equally spaced on
    the mel scale between ``f_min`` and ``f_max`` (default: the Nyquist frequency). Peak height 1."""
    check_int(n_fft, "n_fft", minimum=2)
    check_int(n_mels, "n_mels")
    check_int(sample_rate, "sample_rate")
    check_positive(f_min, "f_min", allow_zero=True)
    f_max = sample_rate / 2 if f_max is None else check_positive(f_max, "f_max")
    if not f_min < f_max <= sample_rate / 2:
        raise ValueError(f"f_min and f_max must satisfy f_min < f_max ≤ sample_rate / 2 = "
                         f"{sample_rate / 2:g}; got {f_min:g} and {f_max:g}")
    low, high = hz_to_mel(torch.tensor([f_min, f_max], dtype=torch.float64)).tolist()
    edges = mel_to_hz(torch.linspace(low, high, n_mels + 2, dtype=torch.float64))
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (centre - lower)
    falling = (upper - bins[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def power_spectrogram(x: torch.Tensor, n_fft: int = 256, hop: int = 128) -> torch.Tensor:
    """|STFT|² per frame: frames of ``n_fft`` samples every ``hop`` (no padding), periodic Hann window
    w[n] = ½ − ½ cos(2πn / n_fft), real FFT. ``N×T`` → ``N×(n_fft//2+1)×frames``."""
    check_waveforms(x)
    check_int(n_fft, "n_fft", minimum=2)
    check_int(hop, "hop")
    if x.shape[1] < n_fft:
        raise ValueError(f"x must have at least n_fft = {n_fft} samples per clip; got {x.shape[1]}")
    return _power(x, n_fft, hop)


def _power(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    window = 0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(n_fft, device=x.device, dtype=x.dtype) / n_fft)
    frames = x.unfold(-1, n_fft, hop) * window  # N × frames × n_fft
    return torch.fft.rfft(frames, dim=-1).abs().square().transpose(1, 2)


class LogMel(nn.Module):
    """log(mel power + floor): ``N×T`` waveforms → ``N×n_mels×frames`` features, differentiable.

        S[m, t] = log( Σ_k M[k, m] · |Σ_n w[n] x[t·hop + n] e^{−2πi kn / n_fft}|² + floor )

    Defaults for 8 kHz audio: 32 ms frames every 16 ms, 40 mel bands from 20 Hz to 4 kHz.
    """

    def __init__(self, sample_rate: int = 8000, n_fft: int = 256, hop: int = 128, n_mels: int = 40,
                 f_min: float = 20.0, floor: float = 1e-6) -> None:
        super().__init__()
        check_int(sample_rate, "sample_rate")
        check_int(n_fft, "n_fft", minimum=2)
        check_int(hop, "hop")
        check_int(n_mels, "n_mels")
        check_positive(f_min, "f_min", allow_zero=True)
        check_positive(floor, "floor")
        self.n_fft, self.hop, self.floor = n_fft, hop, floor
        # recomputed from the settings, not saved in checkpoints
        self.register_buffer("filters", mel_filterbank(n_fft, n_mels, sample_rate, f_min), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        power = _power(x, self.n_fft, self.hop)  # no checks here: attacks call it hundreds of times
        return torch.log(torch.einsum("nkt,km->nmt", power, self.filters.to(x.dtype)) + self.floor)

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop={self.hop}, n_mels={self.filters.shape[1]}, floor={self.floor:g}"


def log_mel(x: torch.Tensor, sample_rate: int = 8000, **options) -> torch.Tensor:
    """The log-mel spectrogram of waveforms ``x`` (``N×T`` in [−1, 1]), detached:
    ``LogMel(**options)(x)``."""
    check_waveforms(x)
    with torch.no_grad():
        return LogMel(sample_rate, **options).to(x.device)(x)


def db(v: torch.Tensor) -> torch.Tensor:
    """Loudness in decibels per clip, dB(v) = 20 · log10 max_t |v_t| (Carlini & Wagner 2018); −∞ for
    silence."""
    check_tensor(v, "v", what="N×T of waveforms", dims=2, finite=False)  # silence is −∞ dB
    return 20 * torch.log10(v.detach().abs().amax(dim=1))


def relative_db(delta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """How loud a perturbation is relative to its clip, dB_x(δ) = dB(δ) − dB(x) (Carlini & Wagner 2018):
    −20 dB means a peak one tenth of the clip's, −40 dB one hundredth. −∞ for δ = 0."""
    check_tensor(delta, "delta", what="N×T of waveforms", dims=2)
    check_tensor(x, "x", what="N×T of waveforms", dims=2, finite=False)  # its values: check_waveforms
    if delta.shape != x.shape:
        raise ValueError(f"delta and x must have the same shape; "
                         f"got {tuple(delta.shape)} and {tuple(x.shape)}")
    check_waveforms(x)
    return db(delta) - db(x)


__all__ = ["LogMel", "log_mel", "mel_filterbank", "power_spectrogram", "hz_to_mel", "mel_to_hz", "db",
           "relative_db"]
