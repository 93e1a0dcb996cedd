"""The Jupyter widget: its model, computations in the background, drawings and saved pages."""
