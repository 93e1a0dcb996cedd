"""Prompts as text: token display, prompt sets from templates, word-swap corruption (no torch)."""
