"""Ways in: the RunPod worker (and its local API) and the command line.

`CODE_STARTED` is when Python first ran this project's code (this package comes first in
`python -m entrypoints.runpod_handler`), so the worker's start-up breakdown can tell the
interpreter's own start-up from the imports that follow it."""

import time

CODE_STARTED = time.perf_counter()
