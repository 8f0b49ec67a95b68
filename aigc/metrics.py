"""Sample-quality metrics on features: FID, Inception Score, precision and recall.

They take features (and class probabilities) from any network; this project uses
its own classifier per dataset, since Inception weights cannot be downloaded here.
Short enough to read, and tested against cases with known answers.
"""

import torch


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """FID (Heusel et al., 2017): the Fréchet distance between Gaussians fitted to two sets of features.

    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), with matrix square roots
    taken by symmetric eigendecomposition (tiny negative eigenvalues from rounding are clamped).
    """
    a, b = features_a.double(), features_b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = symmetric_sqrt(cov_a)
    cross = symmetric_sqrt(root_a @ cov_b @ root_a)
    return float((mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross.trace())


def symmetric_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """The PSD square root of a symmetric matrix; eigh is stable where a general sqrtm is not."""
    eigenvalues, eigenvectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return eigenvectors @ torch.diag(eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.T


def inception_score(probs: torch.Tensor, splits: int = 1) -> float:
    """IS (Salimans et al., 2016): exp(E_x KL(p(y|x) || p(y))), averaged over ``splits`` chunks.

    It is high when each sample is classified confidently and the classes are used evenly;
    its maximum is the number of classes.
    """
    scores = []
    for chunk in probs.double().tensor_split(splits):  # exactly `splits` near-equal chunks
        marginal = chunk.mean(0, keepdim=True)
        kl = (chunk * (torch.log(chunk.clamp_min(1e-12)) - torch.log(marginal.clamp_min(1e-12)))).sum(1)
        scores.append(torch.exp(kl.mean()))
    return float(torch.stack(scores).mean())


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019).

    Each set's manifold is the union of balls around its points, of radius the distance to
    the k-th nearest neighbour within the set.  Precision: the share of fake samples inside
    the real manifold (quality); recall: the share of real samples inside the fake manifold
    (coverage; a collapsed generator has low recall).
    """
    real, fake = real.float(), fake.float()
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    precision = inside_manifold(fake, real, real_radii).float().mean()
    recall = inside_manifold(real, fake, fake_radii).float().mean()
    return float(precision), float(recall)


def knn_radii(points: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance of each point to its k-th nearest other point (chunked so 10k x 10k fits in memory)."""
    radii = []
    for start in range(0, len(points), chunk):
        distances = torch.cdist(points[start : start + chunk], points)
        radii.append(distances.kthvalue(k + 1, dim=1).values)  # k + 1: the nearest is the point itself
    return torch.cat(radii)


def inside_manifold(queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor, chunk: int = 2048
                    ) -> torch.Tensor:
    """Whether each query lies within the radius of at least one point."""
    inside = [(torch.cdist(queries[start : start + chunk], points) <= radii).any(dim=1)
              for start in range(0, len(queries), chunk)]
    return torch.cat(inside)
