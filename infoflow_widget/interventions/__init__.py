"""What an intervention on an attention edge does: its edit, its reference edit and its estimate."""
