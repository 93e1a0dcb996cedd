"""Strategies: which edges (or spans) to measure, exactly or by estimate, through an engine."""
