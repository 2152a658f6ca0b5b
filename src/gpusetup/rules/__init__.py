"""PyTorch's (and Triton's) own rules, restated as pure functions."""
