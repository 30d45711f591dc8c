"""What the tests and the benchmarks share, so neither imports the other: starting the worker's
processes on free loopback ports (`processes`), RunPod's job queue stood in on loopback
(`runpod_queue`), and a mixed load of good and hostile jobs (`load`)."""
