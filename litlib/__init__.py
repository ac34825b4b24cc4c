"""litlib: tested implementations of the algorithms derived in the litlib book.

The foundations (:mod:`litlib.runtime`, :mod:`litlib.claims`, :mod:`litlib.kernels`, :mod:`litlib.testing`,
:mod:`litlib.bench`, :mod:`litlib.distributed`, :mod:`litlib.scan`) are shared by every chapter; each paper has
one subpackage (for example :mod:`litlib.pararnn`).
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("litlib")
except metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
