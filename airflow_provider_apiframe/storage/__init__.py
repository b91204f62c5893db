"""
Keeping generated files: downloads from the CDN, destinations on any object storage, content sniffing,
and the data set's manifest.
"""
