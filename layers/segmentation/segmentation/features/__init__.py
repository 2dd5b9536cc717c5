"""The attribute catalogue and the derivation of features from a customer's history."""
