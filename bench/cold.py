"""A cold start: this process, from nothing to the first answer. Prints one JSON document.

The parent measures the wall time from spawning this process to reading its answer; the
split below is from inside: import, fetch (download with the sha256 computed while
streaming, or nothing when the verified file is already in the cache), load (session or
module, plus one warm-up forward), first inference.
"""

from __future__ import annotations

import json
import sys
import time

start = time.perf_counter()
import app  # noqa: E402  (the import is what is measured)

imported = time.perf_counter()

from devtools.apigateway import api_event  # noqa: E402

from bench import RESULT  # noqa: E402  (light: nothing the service would not import)


def main() -> None:
    """argv: a JPEG file to classify."""
    with open(sys.argv[1], "rb") as photo:
        content_type, data = "image/jpeg", photo.read()
    before = time.perf_counter()
    response = app.app(api_event("POST", "/predict", data, {"Content-Type": content_type}), None)
    answered = time.perf_counter()
    answer = json.loads(response["body"])
    assert app.store.loaded is not None  # it answered
    print(
        RESULT,
        json.dumps(
            {
                "import_ms": round((imported - start) * 1000, 1),
                "fetch_ms": app.store.loaded.timing_ms["fetch"],
                "load_ms": app.store.loaded.timing_ms["load"],
                "first_inference_ms": answer["timing_ms"]["inference"],
                "first_request_ms": round((answered - before) * 1000, 1),
                "label": answer["label"],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
