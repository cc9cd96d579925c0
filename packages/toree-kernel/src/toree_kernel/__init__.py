"""toree_kernel"""

__version__ = "0.1.0"
