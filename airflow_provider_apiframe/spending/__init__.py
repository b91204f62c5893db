"""What jobs cost, and the limits on what a task or a key may spend."""
