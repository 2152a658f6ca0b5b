"""One module per command: parse options, call facts/decisions, hand the result to a renderer."""
