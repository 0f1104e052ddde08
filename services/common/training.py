"""What every training CLI shares: arguments, the build folder, publishing to the store."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .config import load_settings
from .manifest import build_manifest, new_version
from .store import ModelStore

log = logging.getLogger("services.training")


def training_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store-uri", default=None,
                        help="model store (default: MODEL_STORE_URI or var/models)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--output", type=Path, default=None,
                        help="also keep the built version folder here")
    parser.add_argument("--no-publish", action="store_true", help="build and evaluate only")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--small", action="store_true",
                        help="a small, fast slice of the data (tests and smoke runs); metrics are not comparable")
    parser.add_argument("--until", type=_date, default=None, metavar="YYYY-MM-DD",
                        help="train and evaluate on the data up to this date only; the later rows are left for "
                             "`python -m services.common.report --fresh`")
    return parser


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def progress_disabled(quiet: bool) -> bool:
    return quiet or not sys.stderr.isatty() and os.environ.get("PROGRESS") != "1"


def build_dir(output: Path | None) -> Path:
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        return output
    return Path(tempfile.mkdtemp(prefix="model-build-"))


def finish(service: str, directory: Path, *, metrics: dict[str, Any], features: list[dict[str, str]],
           data_fingerprint: str, libraries: list[str], store_uri: str | None, publish: bool,
           extra: dict[str, Any] | None = None, profile: dict[str, Any] | None = None,
           data_end: str | None = None) -> dict[str, Any]:
    """Write the manifest and publish (version folder first, LATEST last).

    `data_end`: the last time (ISO date) of the rows the model was trained on; `report --fresh`
    scores only rows after it. `profile` is `drift.profile(fitting_frame, <the service's served features>)`: the manifest keeps it
    so serving can compare the inputs it is asked about with the data the model was fitted on."""
    version = new_version()
    if profile is not None:
        extra = {**(extra or {}), "profile": profile}
    if data_end is not None:
        extra = {**(extra or {}), "data_end": data_end}
    manifest = build_manifest(directory, service=service, version=version, metrics=metrics, features=features,
                              data_fingerprint=data_fingerprint, libraries=libraries, extra=extra)
    if publish:
        settings = load_settings()
        store = ModelStore(store_uri or settings.model_store_uri, settings.model_cache_dir)
        store.publish(service, directory)
        print(f"published {service} {version} to {store.uri}", file=sys.stderr)
    return manifest
