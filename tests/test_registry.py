"""The studio functions draw from whichever Registry a test hands them: models built in the test, no weights/."""

import numpy as np
import pytest
import torch

from aigc.images import to_pil
from aigc.models import VAE, GANConfig, VAEConfig
from aigc.models.gan import build_gan
from aigc.studio import InputError, gan, vae
from aigc.studio.gan import SCALE, seed_latent
from aigc.studio.models import Registry, registry, using_registry


@pytest.fixture
def tiny_models():
    """A tiny untrained conditional GAN and VAE, built here, named as no bundled model is."""
    torch.manual_seed(0)
    generator, _ = build_gan(GANConfig(latent_dim=8, num_classes=3, class_names=["ant", "bee", "cat"], width=8))
    return {"test-tiny-gan": generator.eval(), "test-tiny-vae": VAE(VAEConfig(latent_dim=4, width=8, hidden=16)).eval()}


def test_a_gan_built_in_a_test_is_drawn_through_the_studio(tiny_models):
    generator = tiny_models["test-tiny-gan"]
    with using_registry(Registry.holding(tiny_models)):
        assert gan.gan_models() == ["test-tiny-gan"] and vae.vae_models() == ["test-tiny-vae"]
        assert gan.class_names("test-tiny-gan") == ["ant", "bee", "cat"]
        picture = gan.generate("test-tiny-gan", label="bee", seed=5, truncation=1.0)
    drawn = generator.generate(seed_latent(8, 5)[None], torch.tensor([1]))[0]  # no offsets, no truncation
    assert picture.size == (28 * SCALE, 28 * SCALE)
    assert np.array_equal(np.asarray(picture), np.asarray(to_pil(drawn, SCALE)))


def test_inside_the_block_only_the_given_models_exist_and_the_previous_registry_comes_back(tiny_models):
    with using_registry(Registry.holding({})) as outer:
        with using_registry(Registry.holding(tiny_models)) as given:
            assert registry() is given
            with pytest.raises(InputError, match="Unknown model 'gan-mnist'; choose one of: test-tiny-gan"):
                gan.generate("gan-mnist")
            with pytest.raises(InputError, match="Unknown model 'test-tiny-vae'; choose one of: test-tiny-gan"):
                gan.generate("test-tiny-vae")
        assert registry() is outer
