"""The OCPI 2.2.1 CPO interface: an adapter on the domain, mounted under ``/ocpi``."""
