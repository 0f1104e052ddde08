"""A thin onnxruntime session for serving: float32 rows in, one output array back."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort


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

    def run(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if rows.ndim != 2 or (isinstance(self.n_features, int) and rows.shape[1] != self.n_features):
            raise ValueError(f"expected rows of {self.n_features} features, got shape {rows.shape}")
        return self.session.run([self.output_name], {self.input_name: rows})[0]
