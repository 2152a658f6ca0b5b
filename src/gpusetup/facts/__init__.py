"""Facts: what is true of this machine, collected with I/O only and no judgement."""
