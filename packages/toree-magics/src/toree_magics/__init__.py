"""toree_magics"""

__version__ = "0.1.0"
