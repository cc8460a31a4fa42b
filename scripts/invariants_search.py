#!/usr/bin/env python
"""The long search for a workflow that breaks a governance invariant (`make invariants-search`).

Runs the state machine of tests/invariants/test_workflows.py with its `search` hypothesis profile:
random (not derandomized), by default 260 examples of up to 50 steps each, at least 10,000 steps in
all; every step is followed by the check of all eight invariants. Prints what the machine did and,
last, "steps: N, violations: M". INVARIANTS_EXAMPLES and INVARIANTS_STEPS change the size of the search;
DATABASE_URL and TEST_REDIS_URL are passed on as for the suite (scripts/run_tests.py).
"""

import os
import subprocess  # nosec B404: runs this repository's own test runner
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    env = {
        **os.environ,
        "INVARIANTS_PROFILE": "search",
        "INVARIANTS_EXAMPLES": os.environ.get("INVARIANTS_EXAMPLES", "260"),
        "INVARIANTS_STEPS": os.environ.get("INVARIANTS_STEPS", "50"),
    }
    started = time.monotonic()
    command = [
        sys.executable,
        str(ROOT / "scripts" / "run_tests.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",  # one process: the machine's figures are printed by the process that ran it
        "tests/invariants/test_workflows.py",
        *sys.argv[1:],
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)  # nosec B603: fixed arguments
    print(f"time: {time.monotonic() - started:.0f} s")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
