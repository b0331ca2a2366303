"""The on-disk format of a Houston home (docs/formats.md).

Every path and every file name of a home is spelled in this package only.
"""
