"""The ground floor: errors, argument checks, file I/O, the palette, the OpenMP guard (no torch, no model)."""
