#!/usr/bin/env bash
# The prepared device check of docs/gpu.md: needs only a built `losscape` binary, python3 (the
# standard library; for a GPU also the machine's torch 2.11, whose libraries the binary uses) and
# builds nothing. It prints the device report, compares the device's losses with the CPU's at 5
# grid points, times ResNet-56 grid points over synthetic 3x32x32 images and extrapolates the
# paper's 51x51 surface over 50,000 images, times Hessian-vector products, times several grid points
# per forward pass (--points-per-pass 4 against 1, with their losses compared), and writes one JSON
# file.
#
#   scripts/gpu-check.sh [--device cuda|cuda:N|cpu] [--bin PATH] [--out FILE] [--work DIR] [--toy]
#
# --toy shrinks everything (ResNet-8, a few hundred 3x16x16 images) so that the CPU runs it in
# seconds: the test suite does, so the script cannot rot. Defaults: --device cuda, --bin from
# $LOSSCAPE_BIN or target/release/losscape, --out gpu-check.json, --work a temporary folder.
set -euo pipefail

device=cuda
bin="${LOSSCAPE_BIN:-}"
out=gpu-check.json
work=""
toy=0
while (($#)); do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        --toy) toy=1; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "$bin" ]]; then
    bin="$here/target/release/losscape"
fi
if [[ ! -x "$bin" ]]; then
    echo "gpu-check: no losscape binary at $bin (build one with cargo build --release, or pass --bin)" >&2
    exit 1
fi
command -v python3 >/dev/null || { echo "gpu-check: python3 is needed (standard library only)" >&2; exit 1; }

# On a GPU machine the libraries come from the local torch 2.11 install: LOSSCAPE_TORCH_DIR names
# it for the CUDA kernels, and LD_LIBRARY_PATH lets the binary find libtorch_cpu.so there.
if [[ "$device" != cpu ]]; then
    if [[ -z "${LOSSCAPE_TORCH_DIR:-}" ]]; then
        LOSSCAPE_TORCH_DIR="$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)" || {
            echo "gpu-check: python3 cannot import torch; set LOSSCAPE_TORCH_DIR to a torch 2.11 install (docs/gpu.md)" >&2
            exit 1
        }
        export LOSSCAPE_TORCH_DIR
    fi
    export LD_LIBRARY_PATH="$LOSSCAPE_TORCH_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

if [[ -z "$work" ]]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work="$(cd "$work" && pwd)"

if ((toy)); then
    model=resnet8; shape=3x16x16; images=200; check_per_class=5; time_axis=-1:1:2; hvp_samples=40; hvp_iter=3
    pp_per_class=5; pp_axis=-1:1:2
else
    model=resnet56; shape=3x32x32; images=10000; check_per_class=50; time_axis=-1:1:3; hvp_samples=1000; hvp_iter=6
    pp_per_class=200; pp_axis=-1:1:4
fi
L() { "$bin" "$@"; }

echo "== device"
L device | tee "$work/device.txt"

echo "== data and checkpoint ($model, $images synthetic $shape images)"
data="$work/synthetic.npz"
L data synthetic --train "$images" --test 100 --shape "$shape" --classes 10 --seed 0 --out "$data"
# The epoch-0 checkpoint (the seeded initialization) on the CPU: no training needed.
L train --model "$model" --preset tiny --epochs 1 --stop-after 0 --dataset "npz:$data" --device cpu \
    --out "$work/run" >/dev/null
ckpt="$work/run/checkpoints/epoch-0000.safetensors"
L direction --checkpoint "$ckpt" --two --seed 1 --out "$work/dirs.safetensors" >/dev/null

echo "== losses on $device against the CPU at 5 points ($((check_per_class * 10)) images)"
for d in cpu "$device"; do
    name="check-${d//:/-}"
    L surface --checkpoint "$ckpt" --direction-file "$work/dirs.safetensors" --x -1:1:5 --splits train \
        --per-class "$check_per_class" --device "$d" --out "$work/$name.surface" 2>"$work/$name.log"
    L export "$work/$name.surface" --format csv --out "$work/$name.csv" 2>>"$work/$name.log"
done

echo "== timing $model grid points over $images images on $device"
L surface --checkpoint "$ckpt" --direction-file "$work/dirs.safetensors" --x "$time_axis" --y "$time_axis" \
    --splits train --device "$device" --out "$work/time.surface" 2>"$work/time.log"
tail -n 1 "$work/time.log"

echo "== grid points per forward pass on $device: 4 against 1 ($((pp_per_class * 10)) images)"
for k in 1 4; do
    L surface --checkpoint "$ckpt" --direction-file "$work/dirs.safetensors" --x "$pp_axis" --y "$pp_axis" \
        --splits train --per-class "$pp_per_class" --points-per-pass "$k" --device "$device" \
        --out "$work/pp$k.surface" 2>"$work/pp$k.log"
    tail -n 1 "$work/pp$k.log"
    L export "$work/pp$k.surface" --format csv --out "$work/pp$k.csv" 2>"$work/pp$k-export.log"
done

echo "== Hessian-vector products on $device ($hvp_samples images)"
L hessian --checkpoint "$ckpt" --samples "$hvp_samples" --max-iter "$hvp_iter" --tol 1e-12 --trace-probes 0 \
    --device "$device" >"$work/hvp.txt" 2>"$work/hvp.log"
grep '^lanczos' "$work/hvp.txt"

# bf16 (`--precision bf16`): the same grid timed again; the run checks its centre and corners
# against f32 and prints the largest deviation. A binary without it is reported as such.
surface_help="$(L surface --help)"
if grep -q 'bf16' <<<"$surface_help"; then
    echo "== timing $model grid points in bf16 on $device"
    L surface --checkpoint "$ckpt" --direction-file "$work/dirs.safetensors" --x "$time_axis" --y "$time_axis" \
        --splits train --device "$device" --precision bf16 --out "$work/time-bf16.surface" 2>"$work/time-bf16.log"
    grep -E 'bf16 against f32|note:' "$work/time-bf16.log" || true
    tail -n 1 "$work/time-bf16.log"
    bf16=measured
else
    bf16="not available in this build"
fi

python3 - "$work" "$device" "$model" "$images" "$toy" "$bf16" "$out" "$pp_per_class" <<'EOF'
import csv, json, math, os, re, sys
work, device, model, images, toy, bf16, out, pp_per_class = sys.argv[1:]
images = int(images)

def timed(log):
    line = open(os.path.join(work, log)).read().strip().splitlines()[-1]
    m = re.search(r"computed (\d+) point\(s\) in ([0-9.]+) s", line)
    if not m:
        sys.exit(f"gpu-check: cannot read the timing line of {log}: {line}")
    return int(m.group(1)), float(m.group(2))

def losses(name):
    with open(os.path.join(work, name + ".csv")) as f:
        return [float(r["train_loss"]) for r in csv.DictReader(f)]

cpu, dev = losses("check-cpu"), losses("check-" + device.replace(":", "-"))
if len(cpu) != 5 or len(dev) != 5 or not all(map(math.isfinite, cpu + dev)):
    sys.exit(f"gpu-check: expected 5 finite losses per device, got {cpu} and {dev}")
rel = [abs(a - b) / max(abs(a), 1e-30) for a, b in zip(cpu, dev)]
tolerance = 1e-4

points, seconds = timed("time.log")
per_point = seconds / points
paper_points, paper_images = 51 * 51, 50000
paper_seconds = per_point * (paper_images / images) * paper_points

# Several points per pass: the same grid with K = 1 and K = 4; the losses must agree (1e-5).
(pp_points, pp1), (pp_points4, pp4) = timed("pp1.log"), timed("pp4.log")
one, four = losses("pp1"), losses("pp4")
if pp_points != pp_points4 or len(one) != pp_points or len(four) != pp_points:
    sys.exit(f"gpu-check: the points-per-pass runs computed {pp_points} and {pp_points4} points")
pp_rel = max(abs(a - b) / max(abs(a), 1e-30) for a, b in zip(one, four))
pp_tolerance = 1e-5
if bf16 == "measured":
    low_points, low_seconds = timed("time-bf16.log")
    text = open(os.path.join(work, "time-bf16.log")).read()
    m = re.search(r"largest relative loss deviation ([0-9.eE+-]+|inf|NaN), largest accuracy difference ([0-9.eE+-]+|inf|NaN)", text)
    if not m:
        sys.exit("gpu-check: the bf16 run printed no deviation from f32")
    low_per_point = low_seconds / low_points
    bf16 = {
        "points": low_points,
        "seconds": low_seconds,
        "seconds_per_point": low_per_point,
        "speedup_over_f32": per_point / low_per_point,
        "max_rel_loss_deviation_from_f32": float(m.group(1)),
        "max_acc_difference_from_f32": float(m.group(2)),
        "paper_surface_minutes": low_per_point * (paper_images / images) * paper_points / 60,
        "emulated": "bf16 is emulated" in text,
    }

hvp = open(os.path.join(work, "hvp.txt")).read()
m = re.search(r"lanczos\s+(\d+) products.*?([0-9.]+) s per product", hvp)
if not m:
    sys.exit("gpu-check: cannot read the Hessian line of losscape hessian")
products, per_product = int(m.group(1)), float(m.group(2))

report = {
    "device": device,
    "device_report": open(os.path.join(work, "device.txt")).read().strip().splitlines(),
    "toy": toy == "1",
    "model": model,
    "check": {
        "points": [-1.0, -0.5, 0.0, 0.5, 1.0],
        "cpu_train_loss": cpu,
        "device_train_loss": dev,
        "max_relative_difference": max(rel),
        "tolerance": tolerance,
        "passed": max(rel) <= tolerance,
    },
    "timing": {
        "images": images,
        "points": points,
        "seconds": seconds,
        "seconds_per_point": per_point,
        "note": "wall time of the grid loop, first point's warm-up included",
        "paper_surface_51x51_50000_images_seconds": paper_seconds,
        "paper_surface_minutes": paper_seconds / 60,
    },
    "hvp": {"products": products, "seconds_per_product": per_product},
    "points_per_pass": {
        "images": int(pp_per_class) * 10,
        "points": pp_points,
        "k": [1, 4],
        "seconds": [pp1, pp4],
        "seconds_per_point": [pp1 / pp_points, pp4 / pp_points],
        "speedup_k4_over_k1": pp1 / pp4,
        "max_relative_difference": pp_rel,
        "tolerance": pp_tolerance,
        "passed": pp_rel <= pp_tolerance,
        "note": "wall time of each grid loop, first point's warm-up included; speedup above 1 means K=4 pays",
    },
    "bf16": bf16,
}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(report, f, indent=2)
    f.write("\n")
os.replace(tmp, out)
print(f"losses: max relative difference {max(rel):.2e} ({'within' if max(rel) <= tolerance else 'ABOVE'} {tolerance:g})")
print(f"timing: {per_point:.3f} s per point over {images} images -> 51x51 over 50,000 images: {paper_seconds / 60:.1f} min")
print(f"hvp: {per_product:.3f} s per product ({products} products)")
print(f"points per pass: K=4 {pp1 / pp4:.2f}x the speed of K=1 ({pp_points} points), losses within {pp_rel:.1e}")
if isinstance(bf16, dict):
    print(f"bf16: {bf16['seconds_per_point']:.3f} s per point ({bf16['speedup_over_f32']:.2f}x f32), "
          f"largest relative loss deviation from f32 {bf16['max_rel_loss_deviation_from_f32']:.2e} -> 51x51: {bf16['paper_surface_minutes']:.1f} min")
else:
    print(f"bf16: {bf16}")
print(f"wrote {out}")
if max(rel) > tolerance or pp_rel > pp_tolerance:
    sys.exit(1)
EOF
