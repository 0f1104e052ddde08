"""A thin onnxruntime session for serving: float32 rows in, one output array back."""
from __future__ import annotations

import ctypes
import ctypes.util
import threading
from pathlib import Path
from typing import Sequence

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
        self._row: tuple | None = None  # run_row's buffers and binding, made on its first call
        self._row_lock = threading.Lock()
        _release_free_heap()

    def run(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if rows.ndim != 2 or (isinstance(self.n_features, int) and rows.shape[1] != self.n_features):
            raise ValueError(f"expected rows of {self.n_features} features, got shape {rows.shape}")
        return self.session.run([self.output_name], {self.input_name: rows})[0]

    def run_row(self, values: Sequence[float]) -> list[float]:
        """`run` of one row given as numbers, its output as a list of Python numbers: the same values, fed
        through an IO binding on an input and an output buffer made once. A prediction is one row, and
        building its arrays and feeding them to `session.run` cost ~15 us per call with cold caches, as
        much as the trees of a small model."""
        if not isinstance(self.n_features, int):  # a model without a fixed width: no buffer to bind
            return self.run(np.asarray([values], dtype=np.float32)).ravel().tolist()
        if len(values) != self.n_features:  # a shorter row would broadcast into the buffer
            raise ValueError(f"expected a row of {self.n_features} features, got {len(values)}")
        with self._row_lock:  # one buffer per model: calls from threads take turns
            if self._row is None:
                self._row = self._bind_row()
            row, out, binding = self._row
            row[0] = values
            self.session.run_with_iobinding(binding)
            return out.ravel().tolist()

    def _bind_row(self) -> tuple:
        row = np.zeros((1, self.n_features), dtype=np.float32)
        out = np.ascontiguousarray(self.session.run([self.output_name], {self.input_name: row})[0])
        binding = self.session.io_binding()
        binding.bind_input(self.input_name, "cpu", 0, np.float32, list(row.shape), row.ctypes.data)
        binding.bind_output(self.output_name, "cpu", 0, out.dtype, list(out.shape), out.ctypes.data)
        return row, out, binding
