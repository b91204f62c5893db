"""
What the provider knows of apiframe's operations and models.

The operations (``operations.py``: endpoint, body, result) and the model catalogue derived from the
vendor's spec (``models.json``), with the checks of a request against it before anything is spent.
"""
