"""Small helpers every part of the provider may use, importing nothing of it."""
