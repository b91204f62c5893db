"""
What the provider knows of apiframe's models: the catalogue derived from the vendor's spec
(``image_models.json``), and the checks of a request against it before anything is spent.
"""
