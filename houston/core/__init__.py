"""Houston's pure core: data in, data out.

Nothing under `houston.core` touches the filesystem, the clock or randomness: the time
("now") and new ids come in as arguments. Every decision here is unit-tested in
milliseconds without files; the I/O modules around it gather the records and apply
what it decides.
"""
