"""
Keeping generated files: downloading them and storing them as a data set.

Downloads from the CDN (``cdn``), destinations on any object storage and what loads a data set
(``data_set``), what a file is from its bytes (``media_type``, ``media_probe``, ``image_header``,
``iso_media``, ``wav_header``), the data set's ``manifest``, storing jobs' outputs (``image_store``), and
files given as inputs (``inputs``).
"""
