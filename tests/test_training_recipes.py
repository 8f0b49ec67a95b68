"""What the training recipes promise: DiffAugment, the deeper VAE, its mixture prior, KL warm-up, the defaults of each
family and the GPT's learning-rate schedule."""

import pytest
import torch

from aigc.models import VAE, GANConfig, VAEConfig
from aigc.models.gan import build_gan
from aigc.models.vae import Halves
from aigc.train import FAMILY_DEFAULTS, diff_augment, lr_factor, parse_args, vae_preview


def test_diff_augment_cuts_a_quarter_of_each_picture_and_passes_gradients():
    torch.manual_seed(0)
    pictures = torch.full((8, 1, 28, 28), 0.5, requires_grad=True)
    augmented = diff_augment(pictures)
    assert augmented.shape == pictures.shape
    holes = (augmented == 0).flatten(1).sum(1)
    assert torch.all(holes == 14 * 14), "a 14 x 14 cutout in every picture"
    augmented.sum().backward()
    assert pictures.grad.abs().sum() > 0, "the generator learns through the augmentation"


def test_diff_augment_fills_a_shift_with_the_background():
    torch.manual_seed(1)
    shifted = diff_augment(torch.ones(64, 1, 28, 28))
    assert set(shifted.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert (shifted == -1).any(), "pictures shifted by up to 3 pixels show the background (-1) at an edge"


@pytest.mark.parametrize("model_type", ["dcgan", "mlp-gan"])
def test_the_class_scores_are_what_the_label_adds_to_the_discriminators_score(model_type):
    """So their softmax is the class posterior the projection head implies, and the class loss trains that."""
    config = GANConfig(model_type=model_type, latent_dim=8, num_classes=10, class_names=[str(c) for c in range(10)])
    discriminator = build_gan(config)[1].eval()  # eval: spectral norm's power iteration stays put between calls
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    score, class_scores = discriminator(x, torch.full((4,), 3), class_scores=True)
    assert class_scores.shape == (4, 10)
    for c in (0, 7):
        differences = discriminator(x, torch.full((4,), c)) - score
        torch.testing.assert_close(differences, class_scores[:, c] - class_scores[:, 3])


def test_a_vae_without_blocks_has_the_plain_architecture_of_the_bundled_weights():
    plain, deeper = VAE(VAEConfig()), VAE(VAEConfig(blocks=2))
    assert [name for name in plain.state_dict() if "encoder.0" in name] == ["encoder.0.weight", "encoder.0.bias"]
    assert len(deeper.state_dict()) > len(plain.state_dict())
    x = torch.rand(3, 1, 28, 28)
    assert deeper(x)[0].shape == plain(x)[0].shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="blocks must be 0 or more"):
        VAEConfig(blocks=-1)
    with pytest.raises(ValueError, match="prior must be 'normal' or 'mixture'"):
        VAEConfig(prior="flow")


def test_a_map_code_keeps_each_part_of_the_picture_in_its_own_place():
    config = VAEConfig(latent_channels=2, latent_dim=2 * 7 * 7, blocks=1)
    vae = VAE(config)
    mu, logvar = vae.encode(torch.rand(3, 1, 28, 28))
    assert mu.shape == logvar.shape == (3, 98)
    assert vae.decode(mu).shape == (3, 1, 28, 28)
    maps = torch.randn(3, 4, 7, 7)  # two maps of means, then two of log-variances
    mean, log_variance = Halves()(maps).chunk(2, dim=1)
    assert torch.equal(mean, maps[:, :2].flatten(1)) and torch.equal(log_variance, maps[:, 2:].flatten(1))
    with pytest.raises(ValueError, match="2 maps of 7 x 7 has latent_dim 98, got 16"):
        VAEConfig(latent_channels=2)
    with pytest.raises(ValueError, match="latent_channels must be 0 or more"):
        VAEConfig(latent_channels=-1)


def test_the_mixture_prior_samples_each_class_around_its_codes(tmp_path):
    vae = VAE(VAEConfig(latent_dim=4, prior="mixture", num_classes=2, class_names=["a", "b"]))
    generator = torch.Generator().manual_seed(0)
    codes = torch.cat([torch.randn(500, 4, generator=generator) * 0.1 + 5,
                       torch.randn(500, 4, generator=generator) * 0.1 - 5])
    vae.fit_prior(codes, torch.tensor([0] * 500 + [1] * 500))
    z = vae.sample_latents(1000, torch.Generator().manual_seed(1))
    assert torch.allclose(z[0::2].mean(0), torch.full((4,), 5.0), atol=0.05), "even samples: class 0"
    assert torch.allclose(z[1::2].std(0), torch.full((4,), 0.1), atol=0.02)
    centres = vae.sample_latents(2, temperature=0.0, labels=torch.tensor([1, 0]))
    assert torch.allclose(centres, vae.prior_means[[1, 0]]), "temperature 0 gives each class's centre"
    vae.save_pretrained(tmp_path)
    assert torch.equal(VAE.from_pretrained(tmp_path).sample_latents(6, torch.Generator().manual_seed(2)),
                       vae.sample_latents(6, torch.Generator().manual_seed(2))), "the fitted prior is in the weights"


def test_the_sample_grid_of_a_run_draws_from_the_fitted_prior_not_from_n01():
    vae = VAE(VAEConfig(latent_dim=4, prior="mixture", num_classes=2, class_names=["a", "b"])).eval()
    vae.fit_prior(torch.cat([torch.full((10, 4), 5.0), torch.full((10, 4), -5.0)]), torch.tensor([0] * 10 + [1] * 10))
    pictures = torch.rand(3, 1, 28, 28)
    preview = vae_preview(vae, pictures)
    assert preview.grid.shape == (3 + 3 + 32, 1, 28, 28) and torch.equal(preview.grid[:3], pictures)
    with torch.no_grad():
        centres = vae.decode(vae.prior_means)  # the classes' codes hardly spread: their samples are their centres
    torch.testing.assert_close(preview.samples[:2], centres, atol=1e-3, rtol=0)


def test_a_normal_prior_samples_n01_scaled_by_the_temperature():
    vae = VAE(VAEConfig(latent_dim=8))
    z = vae.sample_latents(4000, torch.Generator().manual_seed(0), temperature=0.5)
    assert abs(z.mean().item()) < 0.02 and abs(z.std().item() - 0.5) < 0.02


@pytest.mark.parametrize("family", FAMILY_DEFAULTS)
def test_each_family_gets_its_defaults_where_the_command_leaves_them_unset(family):
    data = "shakespeare" if family == "gpt" else "mnist"
    args = parse_args([family, "--data", data, "--out", "x"])
    for name, value in FAMILY_DEFAULTS[family].items():
        assert getattr(args, name) == value
    assert parse_args([family, "--data", data, "--out", "x", "--lr", "0.5"]).lr == 0.5


def test_the_tutorials_gan_defaults_to_its_recipe():
    args = parse_args(["mlp-gan", "--data", "mnist", "--out", "x"])
    assert (args.width, args.lr, args.latent_dim) == (128, 2e-4, 64)


def test_the_gpt_learning_rate_warms_up_then_decays_to_a_tenth():
    factors = [lr_factor(step, warmup=10, steps=100) for step in range(120)]
    assert factors[0] == pytest.approx(0.1) and max(factors) == factors[9] > 0.95, "the peak ends the warm-up"
    assert all(a >= b for a, b in zip(factors[10:], factors[11:])), "never rises after the warm-up"
    assert factors[100] == factors[119] == pytest.approx(0.1), "a tenth from the last step on"
