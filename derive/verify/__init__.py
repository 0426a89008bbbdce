"""Evidence that the derivation is right: finite differences, the expanded loss, the proofs."""
