#!/usr/bin/env python3
"""PyTorch reference for `cargo xtask bench-compare`: the same grid, the same bytes, in PyTorch.

Reads a losscape ResNet checkpoint (safetensors), a losscape direction file (`d1/<name>`,
`d2/<name>`) and a CIFAR-10 binary folder (data_batch_1..5.bin = the evaluated split), and times
one grid point (write theta* + a*d1 + b*d2 into the model, then one pass over every image) in
several configurations:

  original        the original loss-landscape code's way: per point the weights are written into
                  the module, a torch DataLoader iterates a Dataset whose __getitem__ applies
                  per-sample ToTensor/Normalize-like transforms, batch 128, mean CrossEntropyLoss
                  times the batch size summed (torchvision is not needed: the two transforms are
                  written out with the same arithmetic); no loader worker processes
  original-w2     the same with 2 loader worker processes (the original's default --threads 2)
  plain-b128      a tuned plain loop: images preloaded and normalized once as one tensor,
                  torch.no_grad, eval mode, batch 128
  plain-b{16,32,64}, channels-last-b{16,32,64,128}
                  the same loop at other batch sizes, and with the channels-last memory format
  jit-frozen-b{32,128}, jit-frozen-cl-b32
                  a TorchScript module frozen with torch.jit.freeze (conv-BN folding) and re-frozen
                  at every point (the weights change); the freeze is part of the timed point
  autocast-bf16-cl-b{32,64,128}                                                      (bf16)
                  channels-last model and data under torch.autocast("cpu", dtype=torch.bfloat16):
                  convolutions and the linear layer in bf16, the loss summed in f64
  jit-frozen-bf16-cl-b{32,64}                                                        (bf16)
                  a bf16 copy of the model, scripted once; at every point the f32 weights are
                  cast into it and it is frozen (conv-BN folded) anew; channels-last bf16 images

Settings are fixed: torch.set_num_threads(2) (or --threads), one untimed warm-up evaluation per
configuration, then every grid point timed once; the median is reported. Each configuration has a
precision (f32 or bf16). The script also measures the matrix-multiply rate of torch.mm in f32 and
in bf16 (4096x4096 by default: median of 5 after a warm-up) and counts the convolution FLOPs of one
forward pass.

  compare.py data --out DIR [--images 2000] [--test-images 100] [--seed 0]
      writes a synthetic CIFAR-10 binary folder (seeded), the data every side reads
  compare.py run --checkpoint C --directions D --data DIR --points "a,b;a,b;..." --out R.json
      runs every configuration and writes times, losses and accuracies as JSON

The model is built from the checkpoint's `losscape` metadata (`resnet{D}`, `resnet{D}-noshort`,
`wrn{D}-{k}`), with the layers and names of crates/losscape-models/src/resnet.rs.
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

RECORD = 3073
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"
BN_EPS = 1e-5


# ----------------------------------------------------------------------------------------------
# Data


def make_data(out, images, test_images, seed):
    """Seeded synthetic CIFAR-10 binary folder: `images` training records spread over the five
    data_batch files in order, `test_images` test records. Each class has its own mean colour so
    a short training run can learn something; pixels are that mean plus uniform noise."""
    import os

    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    means = rng.integers(40, 216, size=(10, 3), dtype=np.int64)

    def records(n):
        labels = rng.integers(0, 10, size=n, dtype=np.int64)
        noise = rng.integers(-40, 41, size=(n, 3, 32 * 32), dtype=np.int64)
        pixels = np.clip(means[labels][:, :, None] + noise, 0, 255).astype(np.uint8)
        recs = np.empty((n, RECORD), dtype=np.uint8)
        recs[:, 0] = labels
        recs[:, 1:] = pixels.reshape(n, 3 * 32 * 32)
        return recs

    train = records(images)
    for i, chunk in enumerate(np.array_split(train, len(TRAIN_FILES))):
        with open(os.path.join(out, TRAIN_FILES[i]), "wb") as f:
            f.write(chunk.tobytes())
    with open(os.path.join(out, TEST_FILE), "wb") as f:
        f.write(records(test_images).tobytes())


def read_train(folder):
    """The training split as (uint8 images [N, 3, 32, 32], int64 labels [N])."""
    import os

    raw = b"".join(open(os.path.join(folder, name), "rb").read() for name in TRAIN_FILES)
    if len(raw) % RECORD:
        sys.exit(f"error: {folder}: size {len(raw)} is not a multiple of {RECORD}")
    recs = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    labels = torch.from_numpy(recs[:, 0].astype(np.int64))
    images = torch.from_numpy(recs[:, 1:].copy()).reshape(-1, 3, 32, 32)
    return images, labels


class OriginalDataset(torch.utils.data.Dataset):
    """Like torchvision's CIFAR10: HWC uint8 arrays, per-sample ToTensor then Normalize."""

    def __init__(self, images, labels, mean, std):
        self.data = images.permute(0, 2, 3, 1).contiguous().numpy()  # N, H, W, C as torchvision
        self.targets = labels.tolist()
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        img = torch.from_numpy(self.data[i]).permute(2, 0, 1).contiguous()  # ToTensor: HWC -> CHW
        img = img.to(torch.float32).div(255)  # ToTensor: 0..1
        img = img.sub(self.mean).div(self.std)  # Normalize
        return img, self.targets[i]


# ----------------------------------------------------------------------------------------------
# Model (crates/losscape-models/src/resnet.rs)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, shortcuts):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.kind = "none" if not shortcuts else ("proj" if stride != 1 or cin != cout else "id")
        if self.kind == "proj":
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout, eps=BN_EPS))
        else:
            self.shortcut = nn.Sequential()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.kind == "id":
            out = out + x
        elif self.kind == "proj":
            out = out + self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, depth, width, shortcuts, in_channels, num_classes):
        super().__init__()
        self.arch = (depth, width, shortcuts, in_channels, num_classes)
        if (depth - 2) % 6:
            raise ValueError(f"resnet depth {depth} is not 6n+2")
        n = (depth - 2) // 6
        base = 16 * width
        self.conv1 = nn.Conv2d(in_channels, base, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(base, eps=BN_EPS)
        cin = base
        for stage in range(3):
            cout = base << stage
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and i == 0 else 1, shortcuts))
                cin = cout
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(out.mean(dim=(2, 3)))


def parse_spec(spec):
    """(depth, width, shortcuts) of `resnet{D}[-noshort]` or `wrn{D}-{k}[-noshort]`."""
    parts = spec.split("-")
    shortcuts = parts[-1] != "noshort"
    if not shortcuts:
        parts = parts[:-1]
    if parts[0].startswith("resnet") and len(parts) == 1:
        return int(parts[0][6:]), 1, shortcuts
    if parts[0].startswith("wrn") and len(parts) == 2:
        return int(parts[0][3:]), int(parts[1]), shortcuts
    sys.exit(f"error: model spec {spec!r} is not a CIFAR ResNet (resnet{{D}}, wrn{{D}}-{{k}})")


def load_model(path):
    with safe_open(path, "pt") as f:
        meta = json.loads(f.metadata()["losscape"])
    if meta.get("precision", "f32") != "f32":
        sys.exit("error: the comparison is for f32 checkpoints")
    depth, width, shortcuts = parse_spec(meta["spec"])
    model = ResNet(depth, width, shortcuts, meta["in_channels"], meta["num_classes"])
    state = load_file(path)
    # Strict: every tensor of the checkpoint maps onto the module, and the reverse.
    model.load_state_dict(state, strict=True)
    return model.eval(), meta


def conv_flops(model, size=32):
    """FLOPs (2 per multiply-add) of the convolutions of one forward of one image, by hooks."""
    total = [0]

    def hook(mod, inp, out):
        kh, kw = mod.kernel_size
        total[0] += 2 * out.numel() * (mod.in_channels // mod.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, model.conv1.in_channels, size, size))
    for h in handles:
        h.remove()
    return total[0]


# ----------------------------------------------------------------------------------------------
# Grid points


class Grid:
    """theta* and the directions of every trainable parameter, by the module's parameter order."""

    def __init__(self, model, directions_path):
        dirs = load_file(directions_path)
        self.params = []
        for name, p in model.named_parameters():
            d1, d2 = dirs.get(f"d1/{name}"), dirs.get(f"d2/{name}")
            if d1 is None or d2 is None:
                sys.exit(f"error: {directions_path} has no d1/d2 entry for {name}")
            self.params.append((p, p.detach().clone(), d1, d2))
        if 2 * len(self.params) != len(dirs):
            sys.exit(f"error: {directions_path} has {len(dirs)} tensors, expected {2 * len(self.params)} (weights scope)")

    def set_original(self, a, b):
        """The original's set_weights: p.data = w + sum(d * step) per parameter."""
        for p, w, d1, d2 in self.params:
            p.data = w + (d1 * a + d2 * b)

    @torch.no_grad()
    def set_inplace(self, a, b):
        for p, w, d1, d2 in self.params:
            p.copy_(w)
            p.add_(d1, alpha=a)
            p.add_(d2, alpha=b)


def eval_original(model, loader):
    """The original's eval_loss: mean CrossEntropyLoss per batch times the batch size."""
    criterion = nn.CrossEntropyLoss()
    total_loss, correct, total = 0.0, 0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            total_loss += loss.item() * inputs.size(0)
            total += inputs.size(0)
            correct += outputs.max(1)[1].eq(targets).sum().item()
    return total_loss / total, 100.0 * correct / total


def eval_batches(forward, batches, n):
    loss, correct = 0.0, 0
    with torch.no_grad():
        for xs, ys in batches:
            out = forward(xs)
            loss += F.cross_entropy(out.double(), ys, reduction="sum").item()
            correct += out.argmax(1).eq(ys).sum().item()
    return loss / n, 100.0 * correct / n


def make_configs(model, grid, images, labels, mean, std):
    """name -> (setup description, function(a, b) -> (loss, acc))."""
    n = len(labels)
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    x = images.to(torch.float32).div(255).sub(m).div(s)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    configs = {}

    dataset = OriginalDataset(images, labels, mean, std)

    def original(workers):
        loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=False, num_workers=workers)

        def run(a, b):
            grid.set_original(a, b)
            model.eval()
            return eval_original(model, loader)

        return f"DataLoader ({workers} workers) over per-sample transforms, batch 128", run

    configs["original"] = original(0)
    # The original's default: --threads 2 loader processes, started anew for every pass.
    configs["original-w2"] = original(2)

    def plain(bs, data, label):
        batches = [(data[i : i + bs], labels[i : i + bs]) for i in range(0, n, bs)]

        def run(a, b):
            grid.set_inplace(a, b)
            return eval_batches(model, batches, n)

        return label, run

    for bs in (128, 16, 32, 64):
        configs[f"plain-b{bs}"] = plain(bs, x, f"preloaded tensor, no_grad, eval, batch {bs}")
    for bs in (16, 32, 64, 128):
        configs[f"channels-last-b{bs}"] = plain(bs, x_cl, f"preloaded, channels-last model and data, batch {bs}")

    scripted = []  # scripted once, on first use

    def frozen(bs, data, cl, label):
        batches = [(data[i : i + bs], labels[i : i + bs]) for i in range(0, n, bs)]

        def run(a, b):
            if not scripted:
                scripted.append(torch.jit.script(model))
            grid.set_inplace(a, b)
            # The scripted module shares the parameters; freezing folds BN into the convs.
            f = torch.jit.freeze(scripted[0].eval())
            return eval_batches(f, batches, n)

        return label, run

    def autocast(bs, label):
        batches = [(x_cl[i : i + bs], labels[i : i + bs]) for i in range(0, n, bs)]

        def run(a, b):
            grid.set_inplace(a, b)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return eval_batches(model, batches, n)

        return label, run

    for bs in (32, 64, 128):
        configs[f"autocast-bf16-cl-b{bs}"] = autocast(bs, f"torch.autocast bf16, channels-last model and data, batch {bs}")

    low = []  # the bf16 copy, scripted once, on first use

    def frozen_bf16(bs, label):
        data = x_cl.to(torch.bfloat16)
        batches = [(data[i : i + bs], labels[i : i + bs]) for i in range(0, n, bs)]

        def run(a, b):
            if not low:
                copy = ResNet(*model.arch).eval()
                copy.load_state_dict(model.state_dict())
                copy = copy.to(torch.bfloat16).to(memory_format=torch.channels_last)
                low.append((copy, torch.jit.script(copy)))
            copy, scripted_low = low[0]
            grid.set_inplace(a, b)
            with torch.no_grad():
                for (_, p), (_, q) in zip(model.named_parameters(), copy.named_parameters()):
                    q.copy_(p)  # cast to bf16
            f = torch.jit.freeze(scripted_low.eval())
            return eval_batches(f, batches, n)

        return label, run

    for bs in (32, 64):
        configs[f"jit-frozen-bf16-cl-b{bs}"] = frozen_bf16(bs, f"bf16 copy of the weights frozen per point (torch.jit.freeze), channels-last, batch {bs}")

    for bs in (32, 128):
        configs[f"jit-frozen-b{bs}"] = frozen(bs, x, False, f"torch.jit.freeze (conv-BN folded) per point, batch {bs}")
    configs["jit-frozen-cl-b32"] = frozen(32, x_cl, True, "torch.jit.freeze per point, channels-last, batch 32")
    return configs


def matmul_rate(sizes, dtype, reps=5):
    """Median torch.mm GFLOP/s per size in `dtype`, after one untimed warm-up product."""
    out = {}
    for n in sizes:
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        torch.mm(a, b)
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t)
        out[str(n)] = 2 * n**3 / statistics.median(times) / 1e9
    return out


def precision_of(name):
    return "bf16" if "bf16" in name else "f32"


def run(args):
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.checkpoint)
    norm = meta.get("normalization") or {"mean": [0.0] * 3, "std": [1.0] * 3}
    images, labels = read_train(args.data)
    points = [tuple(float(v) for v in p.split(",")) for p in args.points.split(";")]
    flops = conv_flops(model)
    grid = Grid(model, args.directions)
    configs = make_configs(model, grid, images, labels, norm["mean"], norm["std"])
    only = set(args.only.split(",")) if args.only else None
    results = []
    for name, (setup, fn) in configs.items():
        if only and name not in only:
            continue
        channels_last = "channels-last" in name or "-cl-" in name
        model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        fn(*points[0])  # warm-up, untimed
        times, losses, accs = [], [], []
        for a, b in points:
            t = time.perf_counter()
            loss, acc = fn(a, b)
            times.append(time.perf_counter() - t)
            losses.append(loss)
            accs.append(acc)
        med = statistics.median(times)
        print(f"{name:>24}: {1 / med:.3f} points/s (median of {len(times)}), losses {['%.6f' % l for l in losses]}", file=sys.stderr, flush=True)
        results.append({"name": name, "precision": precision_of(name), "setup": setup, "seconds": times, "median_seconds": med, "losses": losses, "accuracies": accs})
        model.to(memory_format=torch.contiguous_format)
        grid.set_inplace(0.0, 0.0)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "images": len(labels),
        "points": [list(p) for p in points],
        "conv_flops_per_image": flops,
        "matmul_gflops": {p: matmul_rate(args.matmul_sizes, dt) for p, dt in (("f32", torch.float32), ("bf16", torch.bfloat16))},
        "configs": results,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="write the synthetic CIFAR-10 binary folder")
    d.add_argument("--out", required=True)
    d.add_argument("--images", type=int, default=2000)
    d.add_argument("--test-images", type=int, default=100)
    d.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run", help="time every configuration")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--directions", required=True)
    r.add_argument("--data", required=True)
    r.add_argument("--points", required=True, help='grid points "a,b;a,b;..."')
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--only", help="comma-separated configuration names")
    r.add_argument("--matmul-sizes", type=lambda v: [int(n) for n in v.split(",")], default=[4096], help="sizes of the square matrix-multiply probe (default 4096)")
    r.add_argument("--out", required=True)
    args = p.parse_args()
    if args.cmd == "data":
        make_data(args.out, args.images, args.test_images, args.seed)
    else:
        run(args)


if __name__ == "__main__":
    main()
