"""sertools: speech emotion recognition from annotator vote distributions.

The package is import-light: ``import sertools`` pulls in neither torch nor
pandas, so Snakefiles and the CLI start fast.
"""

__version__ = "0.1.0"
