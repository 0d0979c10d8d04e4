"""Trains a network on an ImageFolder tree: from scratch, or a new head on a frozen
ImageNet-pretrained backbone; then has its "none of these" rule calibrated (none_rule.py)."""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from chalicelib.metadata import ModelMetadata
from torch import nn
from tqdm import tqdm

from training import device as devices
from training.choices import ARCHITECTURES
from training.config import TrainConfig
from training.dataset import FEW_IMAGES, Split, eval_batches, resize_side, service_view, split_parts
from training.errors import DatasetError, FineTuneError, WeightsError
from training.features import Features, augmenter, pooled_features
from training.head import MAX_ITERATIONS, fit_head
from training.networks import Network, backbone_blocks, build_network
from training.none_rule import calibrated_rule


def load_init_weights(model: Network, path: Path) -> None:
    """Starts from a local state_dict (never downloaded): one of ours, or the network's own
    library's (torchvision's `fc.` is our head). Tensors whose shape differs (the
    classifier head of a model with other labels) keep their fresh initialisation."""
    own = model.state_dict()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's UnpicklingError, or no torch file at all
        raise WeightsError(f"--init-weights {path} is not a state_dict: {str(exc).splitlines()[0]}") from exc
    if not isinstance(state, dict):
        raise WeightsError(f"--init-weights {path} holds a {type(state).__name__}, not a state_dict")
    if not any(key.startswith("backbone.") for key in state):
        state = {(f"head.{k[3:]}" if k.startswith("fc.") else f"backbone.{k}"): v for k, v in state.items()}
    unknown = sorted(set(state) - set(own))
    if unknown:
        raise WeightsError(f"--init-weights {path} does not fit the network: it holds {', '.join(unknown[:5])}")
    fitting = {k: v.float() if v.is_floating_point() else v for k, v in state.items() if v.shape == own[k].shape}
    model.load_state_dict(fitting, strict=False)
    skipped = sorted(set(state) - set(fitting))
    print(f"initialised from {path}" + (f"; new: {', '.join(skipped)}" if skipped else ""), flush=True)


class _Augmented(torch.utils.data.Dataset):
    def __init__(self, samples: list[tuple[Path, int]], size: int, meta: ModelMetadata) -> None:
        self.samples = samples
        self.meta = meta
        self.transform = augmenter(meta, size)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[i]
        return self.transform(service_view(path, self.meta)), label


def evaluate_loss(
    model: nn.Module, samples, meta: ModelMetadata, batch_size: int, device: torch.device
) -> tuple[float, float]:
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.inference_mode():
        for batch, labels in eval_batches(samples, meta, batch_size):
            inputs, targets = torch.from_numpy(batch).to(device), torch.from_numpy(labels).to(device)
            with devices.autocast(device):
                logits = model(inputs).float()
            total_loss += nn.functional.cross_entropy(logits, targets, reduction="sum").item()
            correct += (logits.argmax(1) == targets).sum().item()
    return total_loss / len(samples), correct / len(samples)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Fit:
    """What fitting left: the validation figures, how it ran (for the metadata) and, for a
    frozen backbone, the pooled features the none-rule is fitted and calibrated on."""

    val_loss: float
    val_accuracy: float
    summary: dict[str, Any]
    features: Features | None = None


def train(cfg: TrainConfig, name: str, version: str) -> tuple[nn.Module, ModelMetadata, dict[str, Split]]:
    """Fits the model (a head on frozen features, or every layer epoch by epoch); returns
    it, its metadata and the parts it used (train, val and test, for export and evaluate)."""
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    device = devices.choose(cfg.device)
    parts = split_parts(cfg.data, cfg.val_fraction, cfg.test_fraction, cfg.seed, (resize_side(cfg.side), cfg.side))
    meta = untrained_metadata(cfg, parts["train"].labels, name, version)
    model = build_network(cfg.architecture, len(meta.labels), pretrained=cfg.starts_pretrained())
    if cfg.init_weights:
        load_init_weights(model, cfg.init_weights)
    started = time.monotonic()
    print("\n".join(part_counts(parts)), flush=True)
    fit = fit_model(model, parts, meta, cfg, device)
    # The rule is set on the CPU in float32, as the service computes its scores.
    rule = calibrated_rule(model.cpu().eval(), parts["val"].samples, meta, cfg, fit.features)
    shown = len(parts["val"].samples)
    print(
        f"on the {shown} validation images: accuracy {fit.val_accuracy:.1%} "
        f"({round(fit.val_accuracy * shown)} of {shown}), loss {fit.val_loss:.4f}; "
        f"trained in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return model, dataclasses.replace(meta, none_rule=rule, training=training_record(cfg, parts, fit)), parts


def part_counts(parts: dict[str, Split]) -> list[str]:
    """What train prints of its parts: images per class in each, and a caution for a small part."""
    names = {"train": "training", "val": "validation", "test": "test"}
    labels = parts["train"].labels
    counts = {part: np.bincount([i for _, i in split.samples], minlength=len(labels)) for part, split in parts.items()}
    lines = [
        f"{label}: " + ", ".join(f"{counts[part][index]} {names[part]}" for part in parts)
        for index, label in enumerate(labels)
    ]
    lines += [
        f"only {len(split.samples)} {names[part]} images: one image more or less right moves its accuracy by "
        f"{100 / len(split.samples):.0f} points, so its figures say little"
        for part, split in parts.items()
        if part != "train" and 0 < len(split.samples) < FEW_IMAGES
    ]
    return lines


def untrained_metadata(cfg: TrainConfig, labels: tuple[str, ...], name: str, version: str) -> ModelMetadata:
    """What the model file will say of itself, but for the none-rule and the training record."""
    unknown = sorted(set(cfg.display_names) - set(labels))
    if unknown:
        raise DatasetError(
            f"--display-name names {', '.join(unknown)}, which {cfg.data} has no class folder for "
            f"(its classes: {', '.join(labels)})"
        )
    architecture = ARCHITECTURES[cfg.architecture]
    return ModelMetadata(
        name=name,
        version=version,
        architecture=cfg.architecture,
        labels=labels,
        input_size=cfg.side,
        resize_size=resize_side(cfg.side),
        mean=architecture.mean,
        std=architecture.std,
        display_names=dict(cfg.display_names),
    )


def fit_model(
    model: Network, parts: dict[str, Split], meta: ModelMetadata, cfg: TrainConfig, device: torch.device
) -> Fit:
    """A head on the frozen backbone (then, with fine_tune, its last blocks too), or every
    layer from the start."""
    if not cfg.starts_pretrained():
        return fit_epochs(model, parts, meta, cfg, device)
    fit = fit_frozen_head(model, parts, meta, cfg, device)
    if not cfg.fine_tune:
        return fit
    unfreeze_last_blocks(model, cfg.fine_tune)
    tuned = fit_epochs(model, parts, meta, cfg, device, frozen_statistics=True)
    # The none-rule reads the fine-tuned features: those it is fitted and calibrated on.
    tuned.features = frozen_features(model, parts, meta, cfg)
    method = (
        "logistic-regression head on frozen features, then the last "
        f"{cfg.fine_tune} blocks and the head fine-tuned epoch by epoch"
    )
    tuned.summary = {**tuned.summary, "method": method, "head": fit.summary, "fine_tuned_blocks": cfg.fine_tune}
    return tuned


def training_record(cfg: TrainConfig, parts: dict[str, Split], fit: Fit) -> dict[str, Any]:
    """How the model was trained, for its metadata: no clock time, so that training again
    on the same images writes the same files (how long it takes: bench/)."""
    return {
        "train_images": len(parts["train"].samples),
        "val_images": len(parts["val"].samples),
        "test_images": len(parts["test"].samples),
        "val_loss": round(fit.val_loss, 5),
        "val_accuracy": round(fit.val_accuracy, 5),
        **fit.summary,
        "seed": cfg.seed,
        "data": str(cfg.data),
        "init_weights": str(cfg.init_weights) if cfg.init_weights else None,
        "pretrained": ARCHITECTURES[cfg.architecture].weights if cfg.starts_pretrained() else None,
    }


def fit_frozen_head(
    model: Network, parts: dict[str, Split], meta: ModelMetadata, cfg: TrainConfig, device: torch.device
) -> Fit:
    """The backbone runs once per view of each image; a logistic-regression head is then
    fitted on those features to convergence, its strength chosen on validation."""
    for parameter in model.parameters():  # the ImageNet head, kept for "none of these", reads these same features
        parameter.requires_grad_(False)
    model.backbone.to(device)
    where = devices.describe(device)
    print(
        f"head on frozen {cfg.architecture} features, {cfg.views} augmented views per training image, "
        f"backbone on {where}",
        flush=True,
    )
    features = frozen_features(model, parts, meta, cfg)
    val_y = np.array([label for _, label in parts["val"].samples])
    head = fit_head(features.train, features.train_labels, features.val, val_y, len(meta.labels))
    model.head.load_state_dict(head.layer.state_dict())
    print(
        f"head: logistic regression, C={head.strength:g} chosen on validation (loss {head.val_loss:.4f}, "
        f"accuracy {head.val_accuracy:.4f}), then refitted on training and validation images",
        flush=True,
    )
    if not head.converged:
        print(
            f"the head did not converge in {MAX_ITERATIONS} L-BFGS iterations: its figures may improve with "
            "more images per class",
            flush=True,
        )
    return Fit(
        head.val_loss,
        head.val_accuracy,
        {
            "method": "frozen backbone; logistic-regression head (L-BFGS) on pooled features",
            "views": 1 + cfg.views,
            "strength": head.strength,
            "converged": head.converged,
            "refitted_on": "train+val",
            "device": where,
        },
        features,
    )


def frozen_features(model: Network, parts: dict[str, Split], meta: ModelMetadata, cfg: TrainConfig) -> Features:
    """The backbone's pooled features: every view of the training images, the service's
    view of the validation images."""
    train_samples, val_samples = parts["train"].samples, parts["val"].samples
    train_x = pooled_features(model.backbone, [p for p, _ in train_samples], meta, cfg.views, "training features")
    val_x = pooled_features(model.backbone, [p for p, _ in val_samples], meta, desc="validation features")[:, 0]
    train_y = np.repeat([label for _, label in train_samples], 1 + cfg.views)
    return Features(train_x.reshape(len(train_y), -1), train_y, val_x)


def unfreeze_last_blocks(model: Network, count: int) -> None:
    blocks = backbone_blocks(model)
    if not 0 < count <= len(blocks):
        raise FineTuneError(f"--fine-tune {count}: this backbone has {len(blocks)} blocks to fine-tune")
    for block in blocks[-count:]:
        for parameter in block.parameters():
            parameter.requires_grad_(True)
    for parameter in model.head.parameters():
        parameter.requires_grad_(True)


@dataclass
class _Best:
    val_loss: float
    val_accuracy: float
    epoch: int
    state: dict[str, torch.Tensor]


def fit_epochs(
    model: Network,
    parts: dict[str, Split],
    meta: ModelMetadata,
    cfg: TrainConfig,
    device: torch.device,
    frozen_statistics: bool = False,
) -> Fit:
    """The trainable layers, epoch by epoch, with early stopping on validation loss.
    frozen_statistics: BatchNorm keeps the pretrained statistics (a few hundred photos
    would shift them away from what the rest of the network expects)."""
    model.to(device)
    amp, where = devices.mixed_precision(device), devices.describe(device)
    loader = _loader(parts["train"].samples, meta, cfg, device)
    print(f"training on {where}{', mixed precision' if amp else ''}, {_loaders(loader.num_workers)}", flush=True)
    step = _Step(model, cfg, device, amp, frozen_statistics, steps=cfg.epochs * len(loader))
    best = _Best(math.inf, 0.0, -1, copy.deepcopy(model.state_dict()))
    for epoch in range(cfg.epochs):
        model.train()
        if frozen_statistics:
            model.backbone.eval()
        train_loss, train_acc = step.epoch(loader, f"epoch {epoch + 1}/{cfg.epochs}")
        val_loss, val_acc = evaluate_loss(model, parts["val"].samples, meta, cfg.batch_size, device)
        print(
            f"epoch {epoch + 1}: train loss {train_loss:.4f} acc {train_acc:.4f} | "
            f"val loss {val_loss:.4f} acc {val_acc:.4f}",
            flush=True,
        )
        if val_loss < best.val_loss:
            best = _Best(val_loss, val_acc, epoch, copy.deepcopy(model.state_dict()))
        elif epoch - best.epoch >= cfg.patience:
            print(f"early stop: no val loss improvement for {cfg.patience} epochs", flush=True)
            break
    if best.epoch == cfg.epochs - 1 and cfg.epochs > 1:
        print(
            f"stopped at the epoch limit ({cfg.epochs}) with validation loss still falling: "
            "more --epochs may do better",
            flush=True,
        )
    model.load_state_dict(best.state)
    return Fit(
        best.val_loss,
        best.val_accuracy,
        {
            "method": "every layer, epoch by epoch",
            "best_epoch": best.epoch + 1,
            "epochs": cfg.epochs,
            "lr": cfg.lr,
            "train_size": cfg.train_size or cfg.side,
            "device": where,
            "mixed_precision": amp,
        },
    )


def _loaders(workers: int) -> str:
    return f"{workers} image loader{'s' if workers > 1 else ''}"


def _loader(
    samples: list[tuple[Path, int]], meta: ModelMetadata, cfg: TrainConfig, device: torch.device
) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        _Augmented(samples, cfg.train_size or cfg.side, meta),
        batch_size=cfg.batch_size,
        shuffle=True,
        num_workers=devices.loader_workers(),
        pin_memory=device.type == "cuda",
        # spawn, not fork: a forked child of a process that runs threads can deadlock on the
        # locks those threads held; persistent, so it starts once per run.
        multiprocessing_context="spawn",
        persistent_workers=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )


class _Step:
    """AdamW on a one-cycle schedule, with gradient scaling under mixed precision."""

    def __init__(
        self, model: Network, cfg: TrainConfig, device: torch.device, amp: bool, frozen_statistics: bool, steps: int
    ) -> None:
        self.model, self.device = model, device
        # Pretrained blocks move at a tenth of the new head's rate, so that a few hundred
        # photos refine the ImageNet features rather than overwrite them.
        backbone_rate = cfg.lr / 10 if frozen_statistics else cfg.lr
        groups: list[dict[str, Any]] = [
            {"params": [p for p in model.backbone.parameters() if p.requires_grad], "lr": backbone_rate},
            {"params": [p for p in model.head.parameters() if p.requires_grad], "lr": cfg.lr},
        ]
        groups = [group for group in groups if group["params"]]
        self.optimiser = torch.optim.AdamW(groups, weight_decay=1e-4)
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp)  # float16 gradients would underflow unscaled
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimiser, [group["lr"] for group in groups], total_steps=steps
        )

    def epoch(self, loader: torch.utils.data.DataLoader, desc: str) -> tuple[float, float]:
        """One pass over the training images: (mean loss, accuracy)."""
        seen, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(loader, desc=desc, unit="batch", leave=False)
        for inputs, targets in bar:
            inputs, targets = inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)
            self.optimiser.zero_grad()
            with devices.autocast(self.device):
                logits = self.model(inputs)
                loss = nn.functional.cross_entropy(logits, targets)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimiser)
            self.scaler.update()
            self.schedule.step()
            seen += len(targets)
            loss_sum += loss.item() * len(targets)
            correct += (logits.argmax(1) == targets).sum().item()
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        return loss_sum / seen, correct / seen
