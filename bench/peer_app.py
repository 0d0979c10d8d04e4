"""The peer: the seed's conventional stack, FastAPI + uvicorn serving the same TorchScript
file with torchvision-style preprocessing (full decode, resize, centre crop), the model
loaded once at start and cached between requests.

    PEER_MODEL=build/demo/model.pt python -m uvicorn bench.peer_app:app --port 8001
"""

from __future__ import annotations

import io
import json
import os

import torch
from chalicelib.metadata import METADATA_FILE
from chalicelib.runtimes import torchscript_deprecation_silenced
from chalicelib.settings import usable_cpus
from fastapi import FastAPI, Request
from PIL import Image
from torchvision import transforms

torch.set_num_threads(usable_cpus())
_extra = {METADATA_FILE: ""}
with torchscript_deprecation_silenced():
    model = torch.jit.load(os.environ["PEER_MODEL"], map_location="cpu", _extra_files=_extra).eval()
meta = json.loads(_extra[METADATA_FILE])
transform = transforms.Compose(
    [
        transforms.Resize(meta["resize_size"]),
        transforms.CenterCrop(meta["input_size"]),
        transforms.ToTensor(),
        transforms.Normalize(meta["mean"], meta["std"]),
    ]
)
app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> dict:
    image = Image.open(io.BytesIO(await request.body())).convert("RGB")
    with torch.inference_mode():
        outputs = model(transform(image)[None])
        logits = outputs[0] if isinstance(outputs, (tuple, list)) else outputs  # [logits, none-rule score, maps]
        probabilities = torch.softmax(logits, dim=1)[0]
    best = int(probabilities.argmax())
    return {"label": meta["labels"][best], "confidence": float(probabilities[best])}
