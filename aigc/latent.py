"""Latent-space maths: paths between codes, truncation and semantic directions."""

import torch

from aigc.models.gan import ImageGenerator


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight-line interpolation; a, b: [D]; t: [S] in [0, 1] -> [S, D]."""
    t = t[:, None]
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake, 1985; White, 2016): follows the great circle between
    the directions of a and b while the norm moves linearly between theirs, so the path keeps to
    the shell where Gaussian latents live instead of cutting through the low-norm middle."""
    t = t[:, None]
    norm_a, norm_b = a.norm(), b.norm()
    unit_a, unit_b = a / norm_a.clamp_min(1e-8), b / norm_b.clamp_min(1e-8)
    omega = torch.arccos((unit_a * unit_b).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if omega < 1e-4:  # (nearly) parallel: the great circle degenerates to a line
        return lerp(a, b, t[:, 0])
    direction = (torch.sin((1 - t) * omega) * unit_a + torch.sin(t * omega) * unit_b) / torch.sin(omega)
    return direction * ((1 - t) * norm_a + t * norm_b)


INTERPOLATIONS = {"lerp": lerp, "slerp": slerp}


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick: pull z toward the mean of the prior (0) by psi; psi 0 gives the mean."""
    return z * psi


def sefa_directions(generator: ImageGenerator, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SeFa (Shen & Zhou, 2021): the top-k eigenvectors of WᵀW of the generator's first layer.

    Moving z along them changes the first layer's output the most, in closed form.
    -> (directions [k, latent_dim], unit norm and orthogonal; strengths [k], descending).
    """
    weight = generator.latent_weight.detach().double().cpu()
    weight = weight / weight.norm(dim=0, keepdim=True)  # as in the paper: normalise each input's column
    eigenvalues, eigenvectors = torch.linalg.eigh(weight.T @ weight)  # ascending
    order = eigenvalues.argsort(descending=True)[:k]
    return eigenvectors[:, order].T.float(), eigenvalues[order].float()


@torch.no_grad()
def ganspace_directions(generator: ImageGenerator, k: int, samples: int = 1024, seed: int = 0
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """GANSpace (Härkönen et al., 2020): PCA of the first layer's activations over sampled latents,
    with each component carried back to z by least squares.

    The class is held fixed: the label only shifts the first layer's (linear) output, so with mixed
    labels the top components would be differences between classes, which no direction of z makes.
    -> (directions [k, latent_dim], unit norm and orthogonal; strengths [k]: the variance each explains, descending).
    """
    config = generator.config
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, config.latent_dim, generator=gen)
    labels = torch.zeros(samples, dtype=torch.long) if config.num_classes else None
    device = generator.device
    activations = generator.first_activations(z.to(device), None if labels is None else labels.to(device))
    activations = activations.double().cpu()
    centred = activations - activations.mean(0)
    _, singular_values, components = torch.linalg.svd(centred, full_matrices=False)
    # regress z on the principal coordinates: the z direction that best produces each component
    coordinates = centred @ components[:k].T
    to_z = torch.linalg.lstsq(coordinates, z.double()).solution  # [k, latent_dim]
    directions = torch.linalg.qr(to_z.T).Q.T  # orthonormal, keeping the order of strength
    directions = directions * torch.sign((directions * to_z).sum(1, keepdim=True))  # keep each one's sign
    variance = singular_values[:k] ** 2 / (samples - 1)
    return directions.float(), variance.float()
