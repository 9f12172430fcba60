"""HTTP surfaces: one package per blueprint, all sharing the core pipeline."""
