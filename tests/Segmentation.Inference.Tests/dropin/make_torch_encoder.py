#!/usr/bin/env python3
"""Writes a drop-in user encoder made with PyTorch, as a user of the service would (DESIGN.md section 7).

A small sequence model over the user's history -- item embedding weighted by item_weights, a one-layer GRU, attention
pooling over the entries that carry weight, plus a linear map of the dense features, L2-normalised -- exported with
torch.onnx.export (opset 17, dynamic batch axis) to the user-encoder contract:

    item_ids int64[batch, L], item_weights float32[batch, L], dense float32[batch, F] -> embedding float32[batch, D]

The contract's metadata (embedding_dim, history_length, dense_features, feature_names) is added with the onnx package,
and the model is written as the next version folder under --models-root (model.json, user_encoder.onnx, item_ids.txt),
built under a temporary name and renamed into place, like the service's own ModelFolder.Write.

--expected receives a JSON file with a few users (history as item-id strings, the indices fed to torch, weights,
dense features) and torch's own embedding of each, for the test to compare with what the service computes.

Written for Debian 12's python3-torch (1.13: the TorchScript-based exporter, opset 17 at most) and python3-onnx.
"""

import argparse
import datetime
import json
import os
import uuid

import warnings

import onnx
import torch
from torch import nn

# torch 1.13 warns about every exported RNN that a batch other than the example's may fail unless the initial state is
# given; forward() builds it from the input's shape, so the batch axis stays dynamic.
warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")

EMBEDDING_DIM = 16
HISTORY_LENGTH = 6
HIDDEN = 12
FEATURE_NAMES = ["recency_days", "frequency", "monetary", "tenure_days"]
ITEM_COUNT = 50
OPSET = 17


class SequenceUserEncoder(nn.Module):
    def __init__(self, items, hidden, dim, features):
        super().__init__()
        self.rows = items + 1  # row 0 is padding
        self.items = nn.Embedding(self.rows, hidden, padding_idx=0)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.score = nn.Linear(hidden, 1)
        self.out = nn.Linear(hidden, dim)
        self.dense = nn.Linear(features, dim)

    def forward(self, item_ids, item_weights, dense):
        # Ids outside [0, rows) are padding: they contribute nothing, whatever their weight.
        known = (item_ids >= 0) & (item_ids < self.rows)
        ids = torch.where(known, item_ids, torch.zeros_like(item_ids))
        weights = torch.where(known & (ids != 0), item_weights, torch.zeros_like(item_weights))
        steps = self.items(ids) * weights.unsqueeze(-1)
        # An explicit zero initial state sized from the input keeps the batch dynamic in the exported GRU (without
        # one, torch 1.13 bakes the example's batch size into the initial state).
        initial = torch.zeros_like(steps[:, :1, :]).transpose(0, 1)
        states, _ = self.gru(steps, initial)
        present = weights != 0
        scores = self.score(states).squeeze(-1).masked_fill(~present, -1e9)
        attention = torch.softmax(scores, dim=1) * present.to(states.dtype)
        pooled = (attention.unsqueeze(-1) * states).sum(dim=1)
        user = self.out(pooled) + self.dense(dense)
        return user / user.norm(dim=1, keepdim=True).clamp_min(1e-12)


def next_version(root):
    versions = [int(name[1:]) for name in os.listdir(root) if name.startswith("v") and name[1:].isdigit()]
    return max(versions, default=0) + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-root", required=True)
    parser.add_argument("--expected", required=True)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = SequenceUserEncoder(ITEM_COUNT, HIDDEN, EMBEDDING_DIM, len(FEATURE_NAMES)).eval()
    item_ids = ["sku-%04d" % i for i in range(1, ITEM_COUNT + 1)]  # line i is index i + 1
    index = {item: i + 1 for i, item in enumerate(item_ids)}

    os.makedirs(args.models_root, exist_ok=True)
    version = next_version(args.models_root)
    folder = os.path.join(args.models_root, "v%06d" % version)
    temp = os.path.join(args.models_root, ".writing-v%06d-%s" % (version, uuid.uuid4().hex))
    os.makedirs(temp)
    onnx_path = os.path.join(temp, "user_encoder.onnx")

    example = (
        torch.randint(0, ITEM_COUNT + 1, (2, HISTORY_LENGTH), dtype=torch.int64),
        torch.rand(2, HISTORY_LENGTH),
        torch.rand(2, len(FEATURE_NAMES)),
    )
    with torch.no_grad():
        torch.onnx.export(
            model, example, onnx_path,
            input_names=["item_ids", "item_weights", "dense"], output_names=["embedding"],
            dynamic_axes={"item_ids": {0: "batch"}, "item_weights": {0: "batch"}, "dense": {0: "batch"}, "embedding": {0: "batch"}},
            opset_version=OPSET)

    proto = onnx.load(onnx_path)
    proto.model_version = version
    proto.producer_name = "pytorch %s (make_torch_encoder.py)" % torch.__version__
    del proto.metadata_props[:]
    for key, value in [("embedding_dim", EMBEDDING_DIM), ("history_length", HISTORY_LENGTH),
                       ("dense_features", len(FEATURE_NAMES)), ("feature_names", ",".join(FEATURE_NAMES)),
                       ("item_count", ITEM_COUNT + 1), ("model_version", version)]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, onnx_path)

    with open(os.path.join(temp, "item_ids.txt"), "w", encoding="utf-8") as f:
        f.write("".join(item + "\n" for item in item_ids))
    manifest = {
        "version": version,
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "producer": "make_torch_encoder.py (pytorch %s)" % torch.__version__,
        "dimension": EMBEDDING_DIM,
        "history_length": HISTORY_LENGTH,
        "dense_features": FEATURE_NAMES,
        "item_count": ITEM_COUNT,
        "training_data_fingerprint": "random-init:seed=%d" % args.seed,
        "training": {"architecture": "embedding x weight -> GRU(%d) -> attention pooling + linear(dense)" % HIDDEN},
        "metrics": {},
    }
    with open(os.path.join(temp, "model.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
    os.rename(temp, folder)

    # Users for the comparison: full, short (padded), unknown and out-of-range items, zero weights, no history at all.
    histories = [
        ["sku-0001", "sku-0007", "sku-0042", "sku-0003", "sku-0050", "sku-0019"],
        ["sku-0010", "sku-0011", None, None, None, None],
        ["no-such-item", "sku-0005", "sku-0005", None, "another-unknown", "sku-0030"],
        ["sku-0020", "sku-0021", "sku-0022", "sku-0023", "sku-0024", "sku-0025"],
        [None, None, None, None, None, None],
    ]
    weights = [
        [1.0, 0.5, 2.0, 1.0, 0.25, 1.5],
        [1.0, 3.0, 0.0, 0.0, 0.0, 0.0],
        [4.0, 1.0, 1.0, 0.0, 2.0, 0.5],
        [1.0, 0.0, 1.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ]
    dense = [
        [0.1, 3.0, 120.5, 400.0],
        [30.0, 1.0, 9.99, 31.0],
        [2.0, 12.0, 800.0, 1000.0],
        [0.0, 0.0, 0.0, 0.0],
        [365.0, 0.0, 0.0, 2.0],
    ]
    indices = [[index.get(item, 0) if item is not None else 0 for item in history] for history in histories]
    with torch.no_grad():
        expected = model(torch.tensor(indices, dtype=torch.int64), torch.tensor(weights), torch.tensor(dense))
    with open(args.expected, "w", encoding="utf-8") as f:
        json.dump({
            "folder": folder,
            "torch_version": torch.__version__,
            "users": [{"item_ids": h, "indices": i, "weights": w, "dense": d, "embedding": e}
                      for h, i, w, d, e in zip(histories, indices, weights, dense, expected.tolist())],
        }, f, indent=1)
    print(folder)


if __name__ == "__main__":
    main()
