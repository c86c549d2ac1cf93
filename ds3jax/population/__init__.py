"""Task-population models: pass@k and majority voting over task difficulty, and their fits."""
