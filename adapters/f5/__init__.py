"""The F5-TTS engine behind the TTS-engine port (see engine.py); importing the package imports no torch."""
