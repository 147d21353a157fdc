"""OCPI 2.1.1, served side by side with 2.2.1 for partners that have not moved on.

Pull only: credentials (a partner registers with us in 2.1.1), locations and tariffs.
Pushes, tokens, commands, sessions and CDRs are 2.2.1 only for now.
"""
