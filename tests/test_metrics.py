"""The metrics against cases whose answers are known."""

import pytest
import torch
import torch.nn.functional as F

from aigc.data import load_images
from aigc.metrics import frechet_distance, inception_score, inside_manifold, knn_radii, precision_recall


def pixel_features(images: torch.Tensor) -> torch.Tensor:
    """A fixed, untrained feature map (7x7 average pooling): FID's properties do not depend on the
    network, only on features that respond to image content, which pooled pixels do."""
    return F.avg_pool2d(images, 4).flatten(1)


@pytest.fixture(scope="module")
def test_images():
    return load_images("fashion", "test")[0][:2000]


def test_fid_of_a_set_with_itself_is_zero(test_images):
    features = pixel_features(test_images)
    assert abs(frechet_distance(features, features)) < 1e-6


def test_fid_of_gaussians_with_shifted_mean():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 4, generator=gen)
    b = torch.randn(20000, 4, generator=gen)
    assert frechet_distance(a, b) < 0.01
    shift = torch.tensor([3.0, 0, 0, 4.0])
    assert frechet_distance(a, b + shift) == pytest.approx(25.0, abs=0.1)  # |delta mu|^2


def test_fid_grows_with_noise_and_blur(test_images):
    reference = pixel_features(test_images[:1000])
    others = test_images[1000:]
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(others.shape, generator=gen)
    noisy = [frechet_distance(reference, pixel_features(others + s * noise)) for s in (0.0, 0.1, 0.2, 0.4)]
    assert noisy == sorted(noisy) and noisy[-1] > 5 * noisy[0]
    kernel = torch.ones(1, 1, 3, 3) / 9
    blurred, blurry = [], others
    for _ in range(4):
        blurred.append(frechet_distance(reference, pixel_features(blurry)))
        blurry = F.conv2d(blurry, kernel, padding=1)
    assert blurred == sorted(blurred)


def test_inception_score_bounds():
    confident_uniform = torch.eye(10).repeat(50, 1)  # every sample certain, classes used evenly
    assert inception_score(confident_uniform) == pytest.approx(10.0)
    one_class = torch.eye(10)[[3] * 500]
    assert inception_score(one_class) == pytest.approx(1.0)
    unsure = torch.full((500, 10), 0.1)
    assert inception_score(unsure) == pytest.approx(1.0)
    assert inception_score(confident_uniform, splits=5) == pytest.approx(10.0)


def test_precision_recall_identical_collapsed_and_disjoint():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 8, generator=gen)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    collapsed = real[:1].repeat(1000, 1) + 1e-3 * torch.randn(1000, 8, generator=gen)  # mode collapse
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.05
    far = torch.randn(1000, 8, generator=gen) + 100
    assert precision_recall(real, far) == (0.0, 0.0)


def test_precision_recall_chunks_agree_with_one_pass():
    gen = torch.Generator().manual_seed(0)
    points, queries = torch.randn(300, 8, generator=gen), torch.randn(200, 8, generator=gen)
    radii = knn_radii(points, 3, chunk=7)  # chunk sizes that do not divide the set sizes
    assert torch.allclose(radii, knn_radii(points, 3, chunk=1000))
    assert torch.equal(inside_manifold(queries, points, radii, chunk=7),
                       inside_manifold(queries, points, radii, chunk=1000))
