"""The design's two actors, with its stdin/stdout JSON contract."""
