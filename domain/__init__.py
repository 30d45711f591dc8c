"""Pure domain of the TTS worker: values, rules and use cases, free of I/O libraries."""
