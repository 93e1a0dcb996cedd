"""Analyses over many graphs: consensus across interventions, prompt sets."""
