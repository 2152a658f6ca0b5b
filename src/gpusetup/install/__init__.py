"""install's decisions (request, resolve, plan) and the one module that changes the machine."""
