"""Results as plain data: flow graphs, role graphs, anatomies, trust flags, and their files."""
