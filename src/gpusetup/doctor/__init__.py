"""doctor's decisions: checks turn facts into findings."""
