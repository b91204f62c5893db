"""Many rows in one task: reading and checking the rows."""
