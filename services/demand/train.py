"""Train, compare and publish the demand model: an alias of the pipeline.

    python -m services.demand.train [same flags as python -m services.demand.pipeline]

`make run` trains every service through `python -m services.<name>.train`; for demand that is
the whole validated pipeline (validate -> load -> features -> compare -> publish).
"""
from __future__ import annotations

from .pipeline import main

if __name__ == "__main__":
    main()
