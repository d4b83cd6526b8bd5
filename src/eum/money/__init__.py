"""The money rules of SPEC section 3 as pure functions: no database, no clock, no I/O.

Every amount is an ``int`` of won and every rate an ``int`` of basis points. Every
derived amount is rounded down; each floor that matters is a ``//`` with a comment
naming its SPEC clause.
"""
