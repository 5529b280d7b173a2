"""Bad-input suite: hostile manifests are rejected or surfaced as conditions; the operator holds."""
