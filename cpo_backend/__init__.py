"""cpo-backend: OCPP central system and OCPI CPO for a Charge Point Operator."""

__version__ = "0.1.0"
