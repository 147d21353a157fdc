"""Roaming: what the CPO publishes to and keeps with its partners, apart from the OCPI wire.

Partners and their credentials, the tokens they tell us of, locations and tariffs as
published, CDR numbering. The OCPI adapter and the operator API use it; it uses the
domain and the database, never an adapter. The protocol-free core (stations, tokens,
transactions, meter readings) stays in ``domain/``, which does not know this package.
"""
