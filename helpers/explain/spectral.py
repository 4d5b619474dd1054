"""Spectral relevance analysis, SpRAy (Lapuschkin et al., "Unmasking Clever Hans predictors", 2019).

Explain many images of one class, and ask whether the model uses *one* strategy for them or several:

1. downsize each relevance map (average pooling by ``pool``), flatten it and scale it to unit L1 norm, so
   that *where* the relevance lies is compared, not how much there is: a vector v_n;
2. connect every map to its k nearest neighbours (Euclidean), symmetrically: the affinity W ∈ {0, 1}^{N×N};
3. the normalised graph Laplacian L = I − D^{−½} W D^{−½}, D = diag(Σ_j W_ij), and its eigenvalues
   0 = λ₁ ≤ λ₂ ≤ …: the number of (near-)zero eigenvalues is the number of (nearly) separate groups,
   and a large *eigengap* λ_{k+1} − λ_k says that k groups describe the maps well;
4. spectral clustering (Ng, Jordan & Weiss 2002): the first k eigenvectors, each row scaled to unit length,
   grouped by k-means.

A group of maps that all point at the same odd place (a watermark) is a strategy worth a look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.vq import kmeans2

from helpers._checks import check_int, check_tensor


@dataclass(frozen=True)
class Spray:
    """What ``spray`` found: a cluster per map, the Laplacian's smallest eigenvalues and the eigengap."""

    clusters: torch.Tensor  # int64 N: the cluster of each map, 0 … n_clusters − 1
    eigenvalues: torch.Tensor  # float64: the smallest eigenvalues of the normalised Laplacian, ascending
    n_clusters: int  # k: given, or where the eigengap is largest
    eigengap: float  # λ_{k+1} − λ_k


def _check_relevance(maps: object) -> torch.Tensor:
    check_tensor(maps, "maps", what="of relevance maps N×C×H×W", dims=4)
    if maps.shape[0] < 3:
        raise ValueError(f"maps must hold at least 3 maps to cluster; got {maps.shape[0]}")
    return maps


def laplacian_spectrum(maps: torch.Tensor, *, pool: int = 2,
                       neighbours: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1–3: the eigenvalues (ascending) and eigenvectors of the normalised Laplacian of the maps'
    symmetric k-nearest-neighbour graph (k = ``neighbours``, maps average-pooled by ``pool``)."""
    maps = _check_relevance(maps)
    check_int(pool, "pool")
    check_int(neighbours, "neighbours")
    if neighbours >= maps.shape[0]:
        raise ValueError(f"neighbours must be < the number of maps ({maps.shape[0]}); got {neighbours}")
    if pool > min(maps.shape[2:]):
        raise ValueError(f"pool must be ≤ the maps' height and width {tuple(maps.shape[2:])}; got {pool}")
    v = F.avg_pool2d(maps.detach().double().sum(1, keepdim=True), pool).flatten(1).cpu()
    v = v / v.abs().sum(1, keepdim=True).clamp_min(1e-30)
    distance = torch.cdist(v, v)
    distance.fill_diagonal_(float("inf"))
    nearest = distance.topk(neighbours, dim=1, largest=False).indices
    w = torch.zeros_like(distance).scatter_(1, nearest, 1.0)
    w = torch.maximum(w, w.T).numpy()
    d = 1.0 / np.sqrt(w.sum(1))
    laplacian = np.eye(len(w)) - d[:, None] * w * d[None, :]
    return np.linalg.eigh(laplacian)


def spray(
    maps: torch.Tensor,
    *,
    n_clusters: int | None = None,
    max_clusters: int = 8,
    pool: int = 2,
    neighbours: int = 10,
    seed: int = 0,
) -> Spray:
    """Spectral relevance analysis of one class's relevance ``maps`` (N×C×H×W, e.g. LRP maps).

    Builds the k-nearest-neighbour graph of the pooled maps (``laplacian_spectrum``), picks the number of
    clusters k where the eigengap λ_{k+1} − λ_k is largest among k = 2 … ``max_clusters`` (unless
    ``n_clusters`` is given) and clusters the rows of the first k eigenvectors, scaled to unit length, with
    k-means (k-means++ start, seeded by ``seed``). Returns a ``Spray``: clusters, eigenvalues, k, eigengap.

    The largest eigengap is a heuristic for k. When the graph falls apart into separate components, their
    number — the count of eigenvalues at 0 — is firmer evidence, and the largest gap may lie above it
    (notebook 04b: two zero eigenvalues, largest gap after λ4); pass ``n_clusters`` to cluster by that count.
    Both depend on the graph's ``neighbours`` and ``pool``: vary them before reading the spectrum.
    """
    check_int(max_clusters, "max_clusters", minimum=2)
    check_int(seed, "seed", minimum=0)
    values, vectors = laplacian_spectrum(maps, pool=pool, neighbours=neighbours)
    top = min(max_clusters, len(values) - 1)
    if n_clusters is None:
        gaps = np.diff(values[: top + 1])  # gaps[i] = λ_{i+2} − λ_{i+1}: the gap after i + 1 clusters
        n_clusters = int(np.argmax(gaps[1:])) + 2
    check_int(n_clusters, "n_clusters", minimum=2)
    if n_clusters >= len(values):
        raise ValueError(f"n_clusters must be < the number of maps ({len(values)}); got {n_clusters}")
    embedding = vectors[:, :n_clusters]
    embedding = embedding / np.linalg.norm(embedding, axis=1, keepdims=True).clip(1e-12)
    _, clusters = kmeans2(embedding, n_clusters, minit="++", seed=np.random.default_rng(seed))
    return Spray(
        clusters=torch.from_numpy(clusters.astype(np.int64)),
        eigenvalues=torch.from_numpy(values[: top + 1].copy()),
        n_clusters=n_clusters,
        eigengap=float(values[n_clusters] - values[n_clusters - 1]),
    )


def purity(clusters: torch.Tensor, truth: torch.Tensor) -> float:
    """Cluster purity: the share of items whose cluster's most common true group is their own,
    (1/N) Σ_clusters max_group |cluster ∩ group|. 1 means every cluster holds one group only."""
    for name, t in (("clusters", clusters), ("truth", truth)):
        check_tensor(t, name, what="of shape (N,)", dtype=(torch.int64, torch.bool), dims=1)
    if clusters.shape != truth.shape or len(clusters) == 0:
        raise ValueError(f"clusters and truth must have the same length > 0; "
                         f"got {len(clusters)} and {len(truth)}")
    if int(clusters.min()) < 0 or int(truth.long().min()) < 0:
        raise ValueError("clusters and truth must hold non-negative group numbers")
    table = torch.zeros(int(clusters.max()) + 1, int(truth.long().max()) + 1, dtype=torch.int64)
    ones = torch.ones(len(clusters), dtype=torch.int64)
    table.index_put_((clusters.cpu(), truth.long().cpu()), ones, accumulate=True)  # the contingency table
    return table.amax(1).sum().item() / len(clusters)


__all__ = ["Spray", "spray", "laplacian_spectrum", "purity"]
