"""A thin onnxruntime session for serving: float32 rows in, one output array back."""
from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import numpy as np
import onnxruntime as ort


def _release_free_heap() -> None:
    """Give freed heap pages back to the OS (glibc malloc_trim; a no-op elsewhere).

    Building a session parses the model proto and copies it into the kernels' own structures; the
    parse buffers are freed but glibc keeps them mapped, so a 200-tree forest (8 MB on disk) left a
    worker ~100 MB larger, of which ~60 MB was free heap. Trimming after the build returns it.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


class OnnxModel:
    def __init__(self, path: Path, output: str | int = 0):
        options = ort.SessionOptions()
        # One thread per session: gunicorn workers are the parallelism, not intra-op threads.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"{path.name}: expected one input, found {len(inputs)}")
        self.input_name = inputs[0].name
        self.n_features = inputs[0].shape[1] if len(inputs[0].shape) > 1 else None
        outputs = [o.name for o in self.session.get_outputs()]
        self.output_name = outputs[output] if isinstance(output, int) else output
        _release_free_heap()

    def run(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if rows.ndim != 2 or (isinstance(self.n_features, int) and rows.shape[1] != self.n_features):
            raise ValueError(f"expected rows of {self.n_features} features, got shape {rows.shape}")
        return self.session.run([self.output_name], {self.input_name: rows})[0]
