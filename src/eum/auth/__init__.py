"""Accounts, sign-up and login, tokens, roles and what each role may see.

Passwords are hashed with argon2; tokens are random, stored only as SHA-256 digests,
expire and can be revoked. An issuer admin is scoped to its issuer and every issuer
and district below it.
"""
