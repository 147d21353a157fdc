"""OCPI 2.1.1, served side by side with 2.2.1 for partners that have not moved on.

Every module a 2.1.1 CPO has: credentials, locations, tariffs, tokens, commands,
sessions and CDRs, in the 2.1.1 shapes, without routing headers and with plain tokens.
Objects are kept in their 2.2.1 form and rendered for the version each partner agreed.
"""
