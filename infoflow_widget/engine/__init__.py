"""Models, metrics and the batched engine that measures interventions, with its reference path and plans."""
