"""report's decisions: many nodes' doctor and verify results side by side."""
