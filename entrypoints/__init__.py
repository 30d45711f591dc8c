"""Ways in: the RunPod worker (and its local API) and the command line."""
