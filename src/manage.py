#!/usr/bin/env python
"""Django's manage.py for a source checkout; the installed console command `madoguchi` does the same."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from madoguchi.__main__ import main

    main()
