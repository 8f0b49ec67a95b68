"""Train any bundled model from scratch, or fine-tune a GPT from weights (a longer context, say).

    python -m aigc.train classifier --data fashion --out weights/classifier-fashion
    python -m aigc.train gan --data fashion --loss hinge --out weights/gan-fashion
    python -m aigc.train mlp-gan --data mnist --out weights/gan-mlp-mnist
    python -m aigc.train vae --data mnist --latent-dim 2 --out weights/vae-mnist-2d
    python -m aigc.train gpt --data shakespeare --out weights/gpt-shakespeare
    python -m aigc.train gpt --data shakespeare --init-from weights/gpt-shakespeare --block-size 512 --out gpt-512

Each run has a fixed seed, a progress bar, sample grids and a resumable
checkpoint in ``--run-dir`` (default runs/<out name>), and writes the final
weights in Hub format to ``--out`` with ``training_log.json`` (the command, the
wall time, the hardware and the loss curves).  Under
``torchrun --nproc_per_node N`` the same command trains data-parallel (DDP:
gloo on the CPU, NCCL on GPUs); each rank sees its own shard of every batch.

The app's Train tab runs this same code in a thread: it builds the arguments
with :func:`parse_args` and passes ``Run`` a hook that sees every step.
"""

import argparse
import dataclasses
import functools
import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from aigc.data import CLASS_NAMES, held_out, load_examples, load_images, load_text
from aigc.hub import default_device, load
from aigc.images import save_grid
from aigc.models import GPT, VAE, Classifier, ClassifierConfig, GANConfig, GPTConfig, VAEConfig
from aigc.models.gan import build_gan
from aigc.models.vae import vae_loss


class Preview(NamedTuple):
    """What a run shows of its model: the sample grid (``nrow`` a row) and the samples among them drawn from
    the model alone (a VAE's grid also holds test pictures and their reconstructions)."""

    grid: torch.Tensor
    nrow: int
    samples: torch.Tensor


# hook(step, losses, preview) after every step; False stops the run.  Time spent in it is not training time.
Hook = Callable[[int, dict[str, float], Callable[[], Preview]], bool | None]


class Run:
    """What every family's training shares: seed, devices, DDP, checkpoints, budget, progress."""

    def __init__(self, args: argparse.Namespace, hook: Hook | None = None):
        self.args = args
        self.hook = hook
        self.distributed = "WORLD_SIZE" in os.environ
        if self.distributed:
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
            if torch.cuda.is_available():
                torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        else:
            self.rank, self.world = 0, 1
        self.device = default_device(f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else None)
        self.main = self.rank == 0
        self.out = Path(args.out)
        self.run_dir = Path(args.run_dir or Path("runs") / self.out.name)
        self.checkpoint = self.run_dir / "checkpoint.pt"
        torch.manual_seed(args.seed)
        self.history: list[dict] = []
        self.step = 0
        self.elapsed = 0.0  # training seconds, summed over resumptions

    def wrap(self, model: nn.Module) -> nn.Module:
        model.to(self.device)
        return DistributedDataParallel(model) if self.distributed else model

    def batches(self, n: int, batch_size: int) -> Iterator[torch.Tensor]:
        """Endless shuffled index batches; every rank takes its own slice of the same permutation.

        The body runs at the first batch, after a checkpoint was loaded, so a resumed run
        skips the batches it has already seen and continues exactly where it stopped.
        """
        generator = torch.Generator().manual_seed(self.args.seed)
        per_rank = batch_size // self.world
        seen = self.step * (self.args.d_steps if self.args.family in ("gan", "mlp-gan") else 1)
        while True:
            order = torch.randperm(n, generator=generator)
            for start in range(0, n - batch_size + 1, batch_size):
                if seen:
                    seen -= 1
                    continue
                yield order[start + self.rank * per_rank : start + (self.rank + 1) * per_rank]

    def fit(self, state: dict, step_fn: Callable[[], dict[str, float]], sample_fn: Callable[[Path], None],
            preview_fn: Callable[[], Preview] | None = None) -> None:
        """Run step_fn until --steps or --minutes (or until the hook says stop), with checkpoints, samples and a
        progress bar (none when a hook reports progress).

        ``state`` holds the modules and optimizers to checkpoint, by name.
        """
        args = self.args
        if args.resume and self.checkpoint.exists():
            self.load_checkpoint(state)
        bar = tqdm(total=args.steps, initial=self.step, disable=not self.main or self.hook is not None,
                   dynamic_ncols=True, desc=self.out.name, smoothing=0.05)
        start = time.perf_counter() - self.elapsed
        deadline = start + args.minutes * 60 if args.minutes else math.inf
        while self.step < args.steps and time.perf_counter() < deadline:
            losses = step_fn()
            self.step += 1
            bar.update(1)
            if self.step % args.log_every == 0 or self.step == args.steps:
                self.history.append({"step": self.step, **{k: round(v, 5) for k, v in losses.items()}})
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
            if self.hook is not None:
                called = time.perf_counter()
                go_on = self.hook(self.step, losses, preview_fn)
                spent = time.perf_counter() - called
                start, deadline = start + spent, deadline + spent
                if go_on is False:
                    self.elapsed = time.perf_counter() - start
                    break
            self.elapsed = time.perf_counter() - start
            if self.main and self.step % args.sample_every == 0:
                sample_fn(self.run_dir / "samples" / f"step_{self.step:06d}.png")
            if self.step % args.checkpoint_every == 0:
                self.save_checkpoint(state)
        bar.close()
        self.save_checkpoint(state)

    def save_checkpoint(self, state: dict) -> None:
        if not self.main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        payload = {name: unwrap(obj).state_dict() for name, obj in state.items()}
        payload["progress"] = {"step": self.step, "elapsed": self.elapsed, "history": self.history,
                               "rng": torch.get_rng_state()}
        torch.save(payload, self.checkpoint.with_suffix(".tmp"))
        self.checkpoint.with_suffix(".tmp").replace(self.checkpoint)  # never leave a half-written checkpoint

    def load_checkpoint(self, state: dict) -> None:
        payload = torch.load(self.checkpoint, map_location=self.device, weights_only=True)
        for name, obj in state.items():
            unwrap(obj).load_state_dict(payload[name])
        progress = payload["progress"]
        self.step, self.elapsed, self.history = progress["step"], progress["elapsed"], progress["history"]
        torch.set_rng_state(progress["rng"].cpu())
        if self.main:
            print(f"resumed {self.checkpoint} at step {self.step}")

    def export(self, model: nn.Module, sample_fn: Callable[[Path], None], data: str) -> None:
        """Write the final weights in Hub format, a sample grid and the training log."""
        model = unwrap(model)
        if self.main:
            model.save_pretrained(self.out)
            (self.out / "README.md").unlink(missing_ok=True)  # the card is written by aigc.evaluate
            sample_fn(self.out / "samples.png")
            log = {
                "command": self.args.command,
                "data": data,
                "steps": self.step,
                "world_size": self.world,
                "wall_time_s": round(self.elapsed, 1),
                "hardware": hardware(self.device),
                "parameters": sum(p.numel() for p in model.parameters()),
                "seed": self.args.seed,
                "history": self.history,
            }
            (self.out / "training_log.json").write_text(json.dumps(log, indent=1))
            print(f"wrote {self.out} ({self.step} steps, {self.elapsed / 60:.1f} min)")
        if self.distributed:
            self.check_replicas(model)
            dist.destroy_process_group()

    def check_replicas(self, model: nn.Module) -> None:
        """DDP must leave every rank with the same weights; fail loudly if it did not."""
        flat = torch.cat([p.detach().flatten() for p in unwrap(model).parameters()]).to(self.device)
        copies = [torch.empty_like(flat) for _ in range(self.world)]
        dist.all_gather(copies, flat)
        if not all(torch.equal(copies[0], c) for c in copies):
            raise RuntimeError("DDP replicas diverged")
        if self.main:
            print(f"DDP: the {self.world} replicas are identical ({flat.numel():,} parameters)")


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.machine()) if os.path.exists("/proc/cpuinfo") else platform.machine()
    return f"CPU: {cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} thread(s) used"


def training_set(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(images, labels, what they are): the train split, or with --examples the 1,000 pictures shipped in the
    package, for a quick run where no data is prepared (a Space); those are then no longer held out."""
    if args.examples:
        pixels, labels, _ = load_examples(args.data)
        images = torch.from_numpy(pixels.astype("float32") / 255.0).unsqueeze(1)
        return images, torch.from_numpy(labels.astype("int64")), f"{args.data} examples ({len(labels)} images)"
    images, labels = load_images(args.data, "train")
    return images, labels, f"{args.data} train split ({len(images)} images)"


def save_preview(preview: Preview, path: Path) -> None:
    save_grid(preview.grid, path, nrow=preview.nrow)


def random_shift(x: torch.Tensor, pixels: int, flip: bool) -> torch.Tensor:
    """Augmentation: shift each image by up to ``pixels`` (and mirror it, for clothes)."""
    n, _, h, w = x.shape
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    if flip:
        theta[:, 0, 0] = torch.where(torch.rand(n, device=x.device) < 0.5, -1.0, 1.0)
    shift = torch.randint(-pixels, pixels + 1, (n, 2), device=x.device)
    theta[:, :, 2] = shift * 2 / torch.tensor([w, h], device=x.device)  # pixels -> [-1, 1] coordinates
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def diff_augment(x: torch.Tensor) -> torch.Tensor:
    """DiffAugment (Zhao et al., 2020) for pictures in [-1, 1]: a shift of up to 1/8 of the size and a cutout of a
    quarter of the picture, both differentiable.  The discriminator sees only augmented pictures, real and
    generated alike, so it cannot memorise a small training set, and the generator still gets its gradients."""
    n, _, h, w = x.shape
    x = random_shift(x + 1, h // 8, flip=False) - 1  # the background (-1) fills in, not grey
    top = torch.randint(0, h - h // 2 + 1, (n, 1, 1, 1), device=x.device)
    left = torch.randint(0, w - w // 2 + 1, (n, 1, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w)
    hole = (rows >= top) & (rows < top + h // 2) & (cols >= left) & (cols < left + w // 2)
    return torch.where(hole, torch.zeros_like(x), x)


def train_classifier(args: argparse.Namespace, run: Run) -> None:
    images, labels, data = training_set(args)
    config = ClassifierConfig(class_names=CLASS_NAMES[args.data], num_classes=len(CLASS_NAMES[args.data]),
                              width=args.width)
    model = run.wrap(Classifier(config))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps)
    batches = run.batches(len(images), args.batch_size)

    def step() -> dict[str, float]:
        idx = next(batches)
        x = random_shift(images[idx].to(run.device), 2, flip=args.data == "fashion")
        y = labels[idx].to(run.device)
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=0.05)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.item(), "acc": (logits.argmax(1) == y).float().mean().item()}

    def sample(path: Path) -> None:  # the test images the model gets most wrong
        net = unwrap(model).eval()
        with torch.no_grad():
            x, y = load_images(args.data, "test")
            wrong = (net(x[:1000].to(run.device)).argmax(1).cpu() != y[:1000]).nonzero().flatten()[:32]
        save_grid(x[wrong], path, nrow=8)
        net.train()

    run.fit({"model": model, "optimizer": optimizer, "schedule": schedule}, step, sample)
    run.export(model, sample, data)


GAN_LOSSES = ("bce", "hinge", "wgan-gp")


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if kind == "bce":  # the tutorial's: real -> 1, fake -> 0
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return fake.mean() - real.mean()  # Wasserstein critic; its gradient penalty is added separately


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean() if kind == "bce" else -fake.mean()  # non-saturating for bce


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al., 2017): push the critic's gradient norm to 1 between real and fake."""
    mix = torch.rand(len(real), 1, 1, 1, device=real.device)
    x = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x, labels).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def ema_average(decay: float) -> Callable:
    """EMA whose decay warms up as (1 + n) / (10 + n), so early samples are not stuck at the initial weights."""

    def average(averaged: torch.Tensor, current: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        d = min(decay, (1 + float(n)) / (10 + float(n)))
        return d * averaged + (1 - d) * current

    return average


def mode_seeking_loss(z1: torch.Tensor, z2: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """MSGAN (Mao et al., 2019): reward images that differ as much as their latents do, so a
    conditional generator cannot ignore z and draw one picture per class."""
    ratio = (x1 - x2).abs().mean(dim=(1, 2, 3)) / (z1 - z2).abs().mean(dim=1)
    return 1 / (ratio.mean() + 1e-5)


def train_gan(args: argparse.Namespace, run: Run) -> None:
    images, labels, data = training_set(args)
    names = CLASS_NAMES[args.data]
    mlp = args.family == "mlp-gan"
    config = GANConfig(model_type="mlp-gan" if mlp else "dcgan", latent_dim=args.latent_dim,
                       num_classes=len(names), class_names=names, width=args.width)
    generator, discriminator = build_gan(config)
    generator, discriminator = run.wrap(generator), run.wrap(discriminator)
    # An exponential moving average of the generator's weights is what we ship: it is smoother than any one step.
    ema = AveragedModel(unwrap(generator), avg_fn=ema_average(args.ema), use_buffers=True)
    betas = (0.0, 0.9) if args.loss == "wgan-gp" else (0.5, 0.999)
    opt_g = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=betas)
    augment = diff_augment if args.augment else (lambda x: x)
    batches = run.batches(len(images), args.batch_size)
    fixed_z = torch.randn(80, config.latent_dim, generator=torch.Generator().manual_seed(0)).to(run.device)
    fixed_labels = (torch.arange(80) // 8 % config.num_classes).to(run.device)

    def step() -> dict[str, float]:
        for _ in range(args.d_steps):
            idx = next(batches)
            real, y = images[idx].to(run.device) * 2 - 1, labels[idx].to(run.device)
            z = torch.randn(len(real), config.latent_dim, device=run.device)
            with torch.no_grad():
                fake = generator(z, y)
            # one forward for real and fake together: simpler for DDP, and faster
            scores, classes = discriminator(augment(torch.cat([real, fake])), torch.cat([y, y]), class_scores=True)
            score_real, score_fake = scores.chunk(2)
            loss_d = discriminator_loss(args.loss, score_real, score_fake)
            class_d = F.cross_entropy(classes[: len(real)], y) if args.class_loss else torch.zeros(())
            # AC-GAN's term (Odena et al., 2017), learnt on real pictures only: learnt on generated ones too,
            # it rewards samples that are all alike
            loss_d = loss_d + args.class_loss * class_d
            if args.loss == "wgan-gp":
                loss_d = loss_d + 10 * gradient_penalty(unwrap(discriminator), real, fake, y)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        half = len(real) // 2
        if args.mode_seeking:  # pairs of samples of the same class: the two halves of the batch
            y = torch.cat([y[:half], y[:half]])
        z = torch.randn(len(y), config.latent_dim, device=run.device)
        fake = generator(z, y)
        score, classes = discriminator(augment(fake), y, class_scores=True)
        # ... and the generator draws pictures that the head reads as the class asked for
        class_g = F.cross_entropy(classes, y) if args.class_loss else torch.zeros(())
        loss_g = generator_loss(args.loss, score) + args.class_loss * class_g
        if args.mode_seeking:
            loss_g = loss_g + args.mode_seeking * mode_seeking_loss(z[:half], z[half:], fake[:half], fake[half:])
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        ema.update_parameters(unwrap(generator))
        losses = {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        return losses | ({"class_d": class_d.item(), "class_g": class_g.item()} if args.class_loss else {})

    def preview() -> Preview:  # a row a class, the same latents every time
        samples = ema.module.eval().generate(fixed_z, fixed_labels)
        return Preview(samples, 8, samples)

    def sample(path: Path) -> None:
        save_preview(preview(), path)

    run.fit({"generator": generator, "discriminator": discriminator, "ema": ema,
             "opt_g": opt_g, "opt_d": opt_d}, step, sample, preview)
    run.export(ema.module, sample, f"{data}, {args.loss} loss")


def preview_pictures(data: str) -> torch.Tensor:
    """32 test pictures spread evenly over the split, so that a split sorted by class shows every class."""
    images = held_out(data).images
    return images[:: max(1, len(images) // 32)][:32]


@torch.no_grad()
def vae_preview(vae: VAE, pictures: torch.Tensor) -> Preview:
    """Test pictures above their reconstructions, then 32 samples of the model's own prior (a mixture prior is
    N(0, I) for every class until it is fitted, at the end of training)."""
    prior = vae.decode(vae.sample_latents(32, torch.Generator().manual_seed(0))).cpu()
    return Preview(torch.cat([pictures, vae.decode(vae.encode(pictures)[0]).cpu(), prior]), 16, prior)


def train_vae(args: argparse.Namespace, run: Run) -> None:
    images, labels, data = training_set(args)
    names = CLASS_NAMES[args.data]
    side = images.shape[-1] // 4  # a map code's size: its latent_dim follows from --latent-channels
    config = VAEConfig(latent_dim=args.latent_channels * side * side if args.latent_channels else args.latent_dim,
                       num_classes=len(names), class_names=names, image_size=images.shape[-1], width=args.width,
                       blocks=args.blocks, latent_channels=args.latent_channels, prior=args.prior)
    model = run.wrap(VAE(config))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps, eta_min=1e-5)
    batches = run.batches(len(images), args.batch_size)
    fixed = preview_pictures(args.data)

    def step() -> dict[str, float]:
        x = images[next(batches)].to(run.device)
        if args.augment:  # moved a little (clothes mirrored too): 4,000 MNIST digits are soon learnt by heart
            x = random_shift(x, 2, flip=args.data == "fashion")
        logits, mu, logvar = model(x)
        _, reconstruction, kl = vae_loss(logits, x, mu, logvar)
        # β = 1: the negative ELBO.  A KL weight rising from 0 lets the decoder learn to use z before the prior
        # pulls every posterior onto it (Bowman et al., 2016), which keeps more of each picture in its code.
        beta = args.beta * min(1.0, run.step / args.kl_warmup) if args.kl_warmup else args.beta
        loss = reconstruction + beta * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.item(), "reconstruction": reconstruction.item(), "kl": kl.item()}

    def preview() -> Preview:
        net = unwrap(model).eval()
        shown = vae_preview(net, fixed)
        net.train()
        return shown

    def sample(path: Path) -> None:
        save_preview(preview(), path)

    run.fit({"model": model, "optimizer": optimizer, "schedule": schedule}, step, sample, preview)
    if config.prior == "mixture":
        net = unwrap(model).eval()
        with torch.no_grad():
            codes = torch.cat([net.encode(images[i : i + 1000])[0].cpu() for i in range(0, len(images), 1000)])
        net.fit_prior(codes, labels)
    run.export(model, sample, data)


def train_gpt(args: argparse.Namespace, run: Run) -> None:
    train_text, val_text = load_text("train"), load_text("val")
    if args.init_from:  # fine-tune: the checkpoint's vocabulary and sizes; --block-size may lengthen its context
        checkpoint = load(args.init_from, device="cpu")
        raw = with_context(checkpoint, args.block_size or checkpoint.config.block_size)
        config = raw.config
    else:
        config = GPTConfig(vocab="".join(sorted(set(train_text + val_text))), block_size=args.block_size or 256,
                           n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout)
        raw = GPT(config)
    data = torch.tensor(raw.tokenizer.encode(train_text))
    val = torch.tensor(raw.tokenizer.encode(val_text))
    model = run.wrap(raw)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.1)
    warmup = max(1, min(200, args.steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(lr_factor, warmup=warmup,
                                                                               steps=args.steps))
    generator = torch.Generator().manual_seed(args.seed + run.rank)
    per_rank = args.batch_size // run.world

    def windows(source: torch.Tensor, n: int, gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(len(source) - config.block_size - 1, (n,), generator=gen)
        x = torch.stack([source[s : s + config.block_size] for s in starts])
        y = torch.stack([source[s + 1 : s + 1 + config.block_size] for s in starts])
        return x.to(run.device), y.to(run.device)

    def step() -> dict[str, float]:
        x, y = windows(data, per_rank, generator)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses = {"loss": loss.item()}
        if run.step % args.sample_every == args.sample_every - 1:  # a quick held-out estimate, same windows each time
            net = unwrap(model).eval()
            with torch.no_grad():
                vx, vy = windows(val, 16, torch.Generator().manual_seed(1))
                losses["val_loss"] = F.cross_entropy(net(vx).flatten(0, 1), vy.flatten()).item()
            net.train()
        return losses

    def sample(path: Path) -> None:
        net = unwrap(model).eval()
        text = net.generate_text("ROMEO:\n", max_new_tokens=300, temperature=0.8, seed=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".txt").write_text("ROMEO:\n" + text)
        net.train()

    run.fit({"model": model, "optimizer": optimizer, "schedule": schedule}, step, sample)
    run.export(model, sample, f"Shakespeare train plays ({len(data):,} characters)")


def lr_factor(step: int, warmup: int, steps: int) -> float:
    """The GPT's learning rate as a fraction of --lr at ``step``, as nanoGPT's get_lr."""
    # 1) linear warm-up over the first `warmup` steps
    warm = min(1.0, (step + 1) / warmup)
    # 2) cosine decay from 1 to 0.1 over the run, 3) then 0.1 for any step past --steps
    progress = min(step, steps) / steps
    return warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def with_context(model: GPT, block_size: int) -> GPT:
    """``model`` with a context of ``block_size`` positions, to be fine-tuned.

    Positions are learned, so a longer context needs rows the model never saw:
    each starts as a copy of the last trained one, which the model already
    reads as "late in the window", rather than as noise.
    """
    old = model.config.block_size
    if block_size < old:
        raise ValueError(f"--block-size {block_size} is shorter than the checkpoint's context of {old}")
    longer = GPT(dataclasses.replace(model.config, block_size=block_size))
    state = model.state_dict()
    positions = state["transformer.wpe.weight"]
    state["transformer.wpe.weight"] = torch.cat([positions, positions[-1:].expand(block_size - old, -1)])
    longer.load_state_dict(state)
    longer.tokenizer = model.tokenizer
    return longer


TRAINERS = {"classifier": train_classifier, "gan": train_gan, "mlp-gan": train_gan, "vae": train_vae, "gpt": train_gpt}
# What each family trains with where the command leaves it unset (parse_args fills them in).
FAMILY_DEFAULTS = {
    "classifier": dict(lr=2e-3, width=32),
    "gan": dict(lr=2e-4, width=64, latent_dim=64),
    "mlp-gan": dict(lr=2e-4, width=128, latent_dim=64),  # the tutorial's: 128 hidden units, Adam 2e-4
    "vae": dict(lr=1e-3, width=32, latent_dim=16),
    "gpt": dict(lr=1e-3),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aigc.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("family", choices=TRAINERS)
    p.add_argument("--data", required=True, choices=("mnist", "fashion", "shakespeare"))
    p.add_argument("--out", required=True, help="folder for the final weights, e.g. weights/gan-fashion")
    p.add_argument("--run-dir", help="checkpoints and sample grids (default runs/<out name>)")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--minutes", type=float, default=0, help="wall-clock budget; 0 = none")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, help="learning rate (default: the family's usual one)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--width", type=int, help="feature maps or hidden units (default: the family's)")
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--examples", action="store_true",
                   help="train on the 1,000 pictures shipped in the package (a quick run without prepared data)")
    p.add_argument("--augment", action="store_true",
                   help="for a small training set, such as MNIST's: a GAN's discriminator sees DiffAugment's shifts "
                        "and cutouts, a VAE learns from pictures shifted by up to 2 pixels")
    gan = p.add_argument_group("GAN")
    gan.add_argument("--loss", choices=GAN_LOSSES, default="hinge")
    gan.add_argument("--d-steps", type=int, default=1, help="discriminator steps per generator step")
    gan.add_argument("--mode-seeking", type=float, default=0.0, help="weight of the MSGAN diversity term (0 = off)")
    gan.add_argument("--ema", type=float, default=0.999, help="decay of the generator's weight average")
    gan.add_argument("--class-loss", type=float, default=0.0,
                     help="weight of an auxiliary classification loss on the projection head's class scores (0 = off)")
    vae = p.add_argument_group("VAE")
    vae.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (1 = the ELBO; β-VAE above)")
    vae.add_argument("--kl-warmup", type=int, default=0, help="steps over which the KL weight rises from 0 to β")
    vae.add_argument("--blocks", type=int, default=0, help="residual blocks at each resolution (0: the plain VAE)")
    vae.add_argument("--latent-channels", type=int, default=0,
                     help="a code of this many maps at a quarter of the picture size (sets --latent-dim; 0: a vector)")
    vae.add_argument("--prior", choices=("normal", "mixture"), default="normal",
                     help="mixture: sample from a Gaussian a class fitted to the training codes after training")
    gpt = p.add_argument_group("GPT")
    gpt.add_argument("--block-size", type=int, help="context length (default: 256, or the --init-from model's)")
    gpt.add_argument("--n-layer", type=int, default=4)
    gpt.add_argument("--n-head", type=int, default=4)
    gpt.add_argument("--n-embd", type=int, default=256)
    gpt.add_argument("--dropout", type=float, default=0.1)
    gpt.add_argument("--init-from", help="fine-tune these weights (a folder or Hub repo id) instead of starting afresh")
    args = p.parse_args(argv)
    if (args.family == "gpt") != (args.data == "shakespeare"):
        p.error("the GPT trains on --data shakespeare, the image models on mnist or fashion")
    for name, value in FAMILY_DEFAULTS[args.family].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.command = "python -m aigc.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    TRAINERS[args.family](args, Run(args))


if __name__ == "__main__":
    main()
