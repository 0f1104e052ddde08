"""Image sizes and container start to /ready, each service run as its task definition says.

    python -m bench.images [--services sales,demand] [--repeats 3]

For every registry service: builds the serving and training images with scripts/build_images.sh
(`make images`; podman), records each image's size and the size and number of its layers above
the base image, then starts the serving image `--repeats` times the way tests/containers runs it
(the task definition read from the Terraform applied to a moto server; see
tests/containers/fargate.py for what is emulated) with its model fetched from that moto S3
endpoint into the empty task volume, and times `podman run` to the first 200 on /ready (median).
Once more with the task's Fargate CPU share as a quota, for reference. Writes bench/images.json
and the images section of bench/RESULTS.md (bench.report renders it with bench.run's results).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from services.common.registry import load_registry
from tests.containers import fargate

from . import report
from .run import model_source

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
TARGET_LAYERS_MB = 250
TARGET_READY_S = 3.0


def say(msg: str) -> None:
    print(f"[bench.images {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def inspect(image: str) -> dict:
    (info,) = json.loads(fargate.podman("image", "inspect", image).stdout)
    return info


def sizes(image: str, base: dict) -> dict:
    info = inspect(image)
    layers = info["RootFS"]["Layers"]
    ours = layers[len(base["RootFS"]["Layers"]):]
    assert layers[:len(base["RootFS"]["Layers"])] == base["RootFS"]["Layers"], f"{image} is not built on {BASE_IMAGE}"
    return {"image": image, "size_mb": round(info["Size"] / 1e6, 1),
            "above_base_mb": round((info["Size"] - base["Size"]) / 1e6, 1), "layers_above_base": len(ours)}


def start_to_ready(image: str, td: fargate.TaskDefinition, endpoint: str, health: str, cpus: float | None) -> float:
    task = fargate.Task(image, td, endpoint, cpus=cpus)
    with task:
        return task.wait_ready(health, timeout=120)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", default="", help="comma-separated (default: every registry service)")
    parser.add_argument("--repeats", type=int, default=3, help="starts per service (median reported)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench")
    args = parser.parse_args(argv)
    registry = load_registry()
    services = [s for s in args.services.split(",") if s] or registry.names()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load_start = list(os.getloadavg())

    say("building (scripts/build_images.sh --train)")
    t0 = time.monotonic()
    built = fargate.build_images(services, "localhost/mlplat", "local", train=True)
    build_s = round(time.monotonic() - t0, 1)
    base = inspect(BASE_IMAGE)
    from tests.conftest import MotoServer, free_port
    from services.common.store import ModelStore

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        work = Path(tmp)
        moto = MotoServer(free_port())
        moto.start()
        try:
            say("task definitions: terraform apply of examples/dev's task definitions to moto")
            tds = fargate.task_definitions_from_terraform(moto.endpoint, work / "tf",
                                                          {"region": "eu-west-1", "image_tag": "bench"})
            for svc in services:
                entry = registry.get(svc)
                _, folder, _ = model_source(svc, work, train=False)
                td = tds[svc]
                with fargate.moto_env(moto.endpoint):
                    ModelStore(td.environment["MODEL_STORE_URI"], work / "publish-cache").publish(svc, folder)
                image = f"localhost/mlplat/{svc}:local"
                times = [start_to_ready(image, td, moto.endpoint, entry.health_path, None) for _ in range(args.repeats)]
                capped = start_to_ready(image, td, moto.endpoint, entry.health_path, td.cpu / 1024)
                row = {"service": svc, "serving": sizes(image, base), "training": sizes(f"{image}-train", base),
                       "model_mb": round(sum(p.stat().st_size for p in folder.iterdir()) / 1e6, 2),
                       "ready_s": [round(t, 2) for t in times], "ready_median_s": round(statistics.median(times), 2),
                       "ready_fargate_cpu_s": round(capped, 2), "fargate_cpu": td.cpu / 1024}
                say(f"{svc}: {row['serving']['above_base_mb']} MB above base, ready in {row['ready_median_s']} s "
                    f"({row['ready_fargate_cpu_s']} s at {row['fargate_cpu']} vCPU)")
                rows.append(row)
        finally:
            moto.stop()

    results = {"command": "python -m bench.images" + (f" {' '.join(argv)}" if argv else ""),
               "started": started, "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
               "load_average": [round(x, 2) for x in load_start], "load_average_end": [round(x, 2) for x in os.getloadavg()],
               "podman": fargate.podman("--version").stdout.strip(), "kernel": platform.release(),
               "base_image": {"name": BASE_IMAGE, "size_mb": round(base["Size"] / 1e6, 1),
                              "note": "the local stand-in made by scripts/base_image.sh (debootstrap bookworm + "
                                      "python3 3.11 in a venv), not Docker Hub's image"},
               "build_s": build_s, "repeats": args.repeats, "services": rows,
               "targets": {"above_base_mb": TARGET_LAYERS_MB, "ready_s": TARGET_READY_S}}
    (args.output / "images.json").write_text(json.dumps(results, indent=1))
    bench = args.output / "results.json"
    if bench.exists():
        (args.output / "RESULTS.md").write_text(report.render(json.loads(bench.read_text())))
        say(f"wrote {args.output / 'images.json'} and the images section of {args.output / 'RESULTS.md'}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
