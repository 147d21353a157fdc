"""OCPI transport rules shared by every module: envelope, auth, headers, pagination."""
