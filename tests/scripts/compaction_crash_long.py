#!/usr/bin/env python3
"""The long run of compaction_crash.py (make test-long): 150 kills over 8
hosts x 12 hours (twice the level-0 files' size, longer compactions).
STRATA_CRASH_KILLS / STRATA_CRASH_HOSTS / STRATA_CRASH_HOURS / STRATA_SEED
still override."""
import os
import runpy

os.environ.setdefault("STRATA_CRASH_KILLS", "150")
os.environ.setdefault("STRATA_CRASH_HOSTS", "8")
os.environ.setdefault("STRATA_CRASH_HOURS", "12")
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "compaction_crash.py"), run_name="__main__")
