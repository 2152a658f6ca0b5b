"""Knowledge as data: the YAML compatibility profiles, validated on load."""
