#!/usr/bin/env python3
"""A backend that misbehaves on purpose: mode "truncated" of misbehave.py (see there).

    truncated_backend.py [--on SUBSTRING]     misbehave only on cases whose id contains SUBSTRING
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import misbehave  # noqa: E402

if __name__ == "__main__":
    sys.exit(misbehave.main(["truncated"] + sys.argv[1:]))
