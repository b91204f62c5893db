"""
Keeping generated files: downloading them and storing them as a data set.

Downloads from the CDN, destinations on any object storage, content sniffing, and the data set's manifest.
"""
