"""The sensor for a job submitted elsewhere."""
