"""One class per operation a client can ask for; each takes its ports in the constructor."""
