"""The triggers that wait (and submit batches) on the triggerer."""
