"""What training's commands refuse, under one root, so that `python -m training` catches
one type and prints one line. Imports nothing heavy: the CLI loads it for every
subcommand, publish and evaluate included, which run where torch is not installed."""

from __future__ import annotations


class TrainingError(Exception):
    """A command cannot do what it was asked; the message says why, in words for its user."""


class ModelFileError(TrainingError):
    """A model file or checkpoint that the service would refuse; the message says why."""


class DatasetError(TrainingError, ValueError):
    """The image folder cannot be trained on; the message says why."""


class DeviceError(TrainingError):
    """A device was asked for that this machine's torch cannot use."""


class FineTuneError(TrainingError, ValueError):
    """--fine-tune asks for more blocks than the backbone has."""


class ExportError(TrainingError, RuntimeError):
    """The exported file would not answer like the trained model."""


class WeightsError(TrainingError, ValueError):
    """A weights file that cannot be read as a state_dict, or does not fit the network named."""


class ImportModelError(TrainingError, ValueError):
    """A model made elsewhere cannot be imported as asked; the message says why."""


class PublishError(TrainingError, RuntimeError):
    """Publishing failed for a reason the message names in one line."""


class AlreadyPublished(PublishError):
    def __init__(self, uri: str) -> None:
        super().__init__(f"{uri} exists; publish a new version or pass --force")
        self.uri = uri
