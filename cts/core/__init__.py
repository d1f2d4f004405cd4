"""The bottom layer: exception and warning types, the result protocol, atomic writes, workers."""
