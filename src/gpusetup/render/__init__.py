"""Output: rich for people, versioned JSON for machines. Only this package prints."""
