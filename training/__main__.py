import os
import sys

from .cli import main

# glibc hands large freed blocks back to the OS at once, so every training step
# re-faults and re-zeroes its activations in the kernel. These settings keep the
# memory in the process (hppnet-tiny step on a 2-core EPYC: 3.5 s -> 2.35 s; kernel
# time 17.6 s -> 3.5 s over 8 steps). They must be set before the interpreter
# starts, hence the one re-exec. HPPNET_NO_MALLOC_TUNING=1 turns it off.
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "68719476736",
                   "MALLOC_TOP_PAD_": "1073741824"}

if __name__ == "__main__":
    if (sys.platform.startswith("linux") and not os.environ.get("HPPNET_NO_MALLOC_TUNING")
            and any(k not in os.environ for k in MALLOC_SETTINGS)):
        os.environ.update({k: os.environ.get(k, v) for k, v in MALLOC_SETTINGS.items()})
        os.execv(sys.executable, [sys.executable, "-m", "hppnet_plugin.training", *sys.argv[1:]])
    raise SystemExit(main())
