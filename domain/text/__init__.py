"""The text front-end: what is actually said for a written text (numbers, symbols,
abbreviations read aloud), and the tags that put pauses and voice changes into it."""
