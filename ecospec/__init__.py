"""Ecospec: one folder of YAML compiled into a GraphQL runtime and static sites wired to it."""
