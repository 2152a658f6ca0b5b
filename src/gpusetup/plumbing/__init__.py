"""Plumbing shared by every layer: the one subprocess seam and the dataclass <-> JSON codec."""
