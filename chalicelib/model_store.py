"""The model's life in one container: fetched lazily in the background, verified, loaded
once, then reused (model_sources fetches, model_cache keeps the verified file). Nothing is
done at import time: Chalice imports app.py to package and deploy it.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from chalicelib import s3_get
from chalicelib.errors import Code, ModelLoadError, Unavailable
from chalicelib.model_cache import Entry, ModelCache
from chalicelib.model_formats import import_library, library_for
from chalicelib.model_sources import GetObject, source_for
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.runtimes import Runtime


@dataclass(frozen=True)
class LoadedModel:
    runtime: Runtime
    sha256: str
    source_uri: str
    loaded_at: str  # ISO 8601, UTC
    timing_ms: dict[str, float]  # fetch, load

    def describe(self) -> dict[str, Any]:
        meta = self.runtime.metadata
        return {
            "name": meta.name,
            "version": meta.version,
            "sha256": self.sha256,
            "architecture": meta.architecture,
            "labels": list(meta.labels),
            "display_names": {label: meta.display(label) for label in meta.labels},
            "input_size": meta.input_size,
            "resize_size": meta.resize_size,
            "normalisation": {"mean": list(meta.mean), "std": list(meta.std)},
            "runtime": self.runtime.name,
            "source_uri": self.source_uri,
            "loaded_at": self.loaded_at,
            "load_timing_ms": self.timing_ms,
            "training": meta.training,
            # null: this model has no "none of these" rule and takes every image as one of its labels.
            "none_rule": asdict(meta.none_rule) if meta.none_rule else None,
        }


class ModelStore:
    """Holds at most one loaded model, loaded once per container in the background. A
    request waits for it at most MODEL_WAIT_S, then is answered 503 with Retry-After while
    the load goes on: a slow S3 never holds a request up to the function's timeout."""

    def __init__(self, settings: Settings, get_object: GetObject = s3_get.get_object) -> None:
        self._settings = settings
        self._get_object = get_object
        self._cache = ModelCache(settings.model_cache_dir)
        self._lock = threading.Lock()
        self._model: LoadedModel | None = None
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="model-load")  # no thread until the first load
        self._loading: Future[LoadedModel] | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._model

    def get(self) -> tuple[LoadedModel, bool]:
        """Returns the model and whether this call is the first to have it (a cold start)."""
        return self._wait(self._settings.model_wait_s)

    def load(self) -> LoadedModel:
        """Loads the model now, however long that takes (SnapStart's before-snapshot hook):
        the next get() is then warm."""
        model, _ = self._wait(None)
        return model

    def _wait(self, timeout_s: float | None) -> tuple[LoadedModel, bool]:
        if self._model is not None:
            return self._model, False
        with self._lock:
            if self._model is not None:
                return self._model, False
            # A failed load is answered to the requests that waited for it; the next starts afresh.
            if self._loading is None or (self._loading.done() and self._loading.exception() is not None):
                self._loading = self._loader.submit(self._load)
            loading = self._loading
        try:
            model = loading.result(timeout=timeout_s)
        except TimeoutError:
            raise Unavailable(
                Code.MODEL_LOADING,
                f"the model {self._settings.model_uri} is still loading; retry in a moment",
                retry_after_s=2,
            ) from None
        with self._lock:
            cold, self._model = self._model is None, model
        return model, cold

    def _load(self) -> LoadedModel:
        uri = self._settings.model_uri
        if not uri:
            raise Unavailable(Code.MODEL_NOT_CONFIGURED, "MODEL_URI is not set for this stage", retry_after_s=60)
        started = time.perf_counter()
        source = source_for(uri, self._cache, self._settings, self._get_object)
        try:
            library_for(source.path)  # before a byte is fetched
            with ThreadPoolExecutor(1) as pool:
                fetching = pool.submit(source.fetch)
                try:
                    # numpy (through runtimes) and the runtime's library are imported only
                    # now, while the bytes arrive: both take a while, and overlap.
                    import_library(source.path)
                    from chalicelib.runtimes import load_runtime
                finally:
                    fetched_file = fetching.result()
                fetched = time.perf_counter()
                # fsync and the index, I/O-bound, beside the CPU-bound load
                committing = (
                    None
                    if fetched_file.etag is None
                    else pool.submit(
                        self._cache.commit, uri, Entry(fetched_file.sha256, fetched_file.etag), source.path.suffix
                    )
                )
                try:
                    runtime = load_runtime(fetched_file.path, self._settings.threads)
                finally:
                    if committing is not None:
                        committing.result()
        except ImportError as exc:
            raise Unavailable(
                Code.RUNTIME_UNAVAILABLE,
                f"the runtime for {source.path.suffix} models needs {exc.name}, which this deployment lacks",
                60,
            ) from exc
        except ModelLoadError as exc:
            raise Unavailable(Code.MODEL_INVALID, f"the model at {uri} cannot be loaded: {exc}", 60) from exc
        done = time.perf_counter()
        return LoadedModel(
            runtime=runtime,
            sha256=fetched_file.sha256,
            source_uri=uri,
            loaded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            timing_ms={"fetch": round((fetched - started) * 1000, 1), "load": round((done - fetched) * 1000, 1)},
        )
